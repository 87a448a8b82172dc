//! Cases: creating, looking up, follow-ups, statuses, listing, deleting.

use crate::backend;
use crate::common::*;
use sha2::{Digest, Sha256};
use wbs_protocol::Status;
use wbs_store::{BlobId, ObjectKind, StagedBlob, StoreError};

#[test]
fn a_new_case_numbers_its_report_and_attachments_and_keeps_their_digests() {
    let store = backend();
    let report = stage(&store, b"encrypted report");
    let a1 = stage(&store, b"first attachment");
    let a2 = stage(&store, b"second attachment, longer");
    let case = store
        .create_case(lookup(1), RECIPIENT, DAY, report, vec![a1, a2])
        .unwrap();

    assert!(wbs_store::is_case_id(&case.id));
    assert_eq!(case.reply_recipient, RECIPIENT);
    assert_eq!(case.received_on, DAY);
    assert_eq!(case.status, Status::Received);
    assert_eq!(case.history, vec![(Status::Received, DAY)]);
    assert_eq!((case.objects, case.followups), (3, 0));
    assert_eq!(case.bytes, (16 + 16 + 25) as u64);
    assert_eq!((case.first_seq, case.last_seq), (1, 3));
    assert!(case.replies.is_empty());

    let objects = store.objects_of_case(&case.id).unwrap();
    let kinds: Vec<_> = objects.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            ObjectKind::Report,
            ObjectKind::Attachment { index: 1 },
            ObjectKind::Attachment { index: 2 }
        ]
    );
    for (o, want) in objects.iter().zip([
        &b"encrypted report"[..],
        b"first attachment",
        b"second attachment, longer",
    ]) {
        assert_eq!(o.case_id, case.id);
        assert_eq!(o.on, DAY);
        assert_eq!(o.size, want.len() as u64);
        assert_eq!(o.sha256, <[u8; 32]>::from(Sha256::digest(want)));
        assert_eq!(read_blob(&store, &o.blob), want);
    }
    assert_eq!(store.case(&case.id).unwrap(), Some(case));
}

#[test]
fn case_ids_are_random_and_lookups_find_only_their_own_case() {
    let store = backend();
    let a = new_case(&store, 1, 0);
    let b = new_case(&store, 2, 0);
    assert_ne!(a.id, b.id);
    assert_eq!(store.case_by_lookup(&lookup(1)).unwrap().unwrap().id, a.id);
    assert_eq!(store.case_by_lookup(&lookup(2)).unwrap().unwrap().id, b.id);
    assert_eq!(store.case_by_lookup(&lookup(3)).unwrap(), None);
    assert_eq!(store.case(&unknown_case()).unwrap(), None);
}

#[test]
fn a_taken_lookup_is_refused_and_the_refused_blobs_are_removed() {
    let store = backend();
    let first = new_case(&store, 7, 1);
    let before = store.blob_count();

    let report = stage(&store, b"second report");
    let att = stage(&store, b"second attachment");
    let (r_id, a_id) = (report.id.clone(), att.id.clone());
    let err = store
        .create_case(lookup(7), RECIPIENT, DAY, report, vec![att])
        .unwrap_err();
    assert!(matches!(err, StoreError::LookupExists), "{err:?}");

    assert!(!store.has_blob(&r_id));
    assert!(!store.has_blob(&a_id));
    assert_eq!(store.blob_count(), before);
    assert_eq!(store.all_cases().unwrap(), vec![first.clone()]);
    assert_eq!(store.cursor().unwrap(), first.last_seq);
}

#[test]
fn follow_ups_are_numbered_from_one_with_their_attachments() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    let m1 = stage(&store, b"follow-up one");
    assert_eq!(store.add_followup(&case.id, m1, vec![], LATER).unwrap(), 1);
    let m2 = stage(&store, b"follow-up two");
    let atts = vec![stage(&store, b"x"), stage(&store, b"yy")];
    assert_eq!(store.add_followup(&case.id, m2, atts, LATER).unwrap(), 2);

    let case = store.case(&case.id).unwrap().unwrap();
    assert_eq!((case.followups, case.objects, case.last_seq), (2, 5, 5));
    assert_eq!(case.bytes, (8 + 13 + 13 + 1 + 2) as u64);
    let kinds: Vec<_> = store
        .objects_of_case(&case.id)
        .unwrap()
        .iter()
        .map(|o| (o.kind, o.on))
        .collect();
    assert_eq!(
        kinds,
        [
            (ObjectKind::Report, DAY),
            (ObjectKind::Followup { n: 1 }, LATER),
            (ObjectKind::Followup { n: 2 }, LATER),
            (ObjectKind::FollowupAttachment { n: 2, index: 1 }, LATER),
            (ObjectKind::FollowupAttachment { n: 2, index: 2 }, LATER),
        ]
    );
}

/// A client that lost the answer sends the same follow-up (the same
/// ciphertext bytes) again: it is stored once, the retry gets the same
/// number, and the retry's blob files are removed. Anything that differs,
/// even one attachment, is a new follow-up.
#[test]
fn a_follow_up_sent_again_is_stored_once() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    let send = |atts: &[&[u8]]| {
        let m = stage(&store, b"the same encrypted follow-up");
        let atts = atts.iter().map(|a| stage(&store, a)).collect();
        store.add_followup(&case.id, m, atts, LATER).unwrap()
    };
    assert_eq!(send(&[b"photo", b"scan"]), 1);
    let files = store.blob_count();
    let seen = store.case(&case.id).unwrap().unwrap();
    assert_eq!(
        send(&[b"photo", b"scan"]),
        1,
        "the resend gets the same answer"
    );
    assert_eq!(
        store.case(&case.id).unwrap().unwrap(),
        seen,
        "nothing changed"
    );
    assert_eq!(store.blob_count(), files);
    assert_eq!(store.leftovers(), 0);

    // Not the same follow-up: other attachments, fewer, or in another order.
    assert_eq!(send(&[b"photo", b"other"]), 2);
    assert_eq!(send(&[b"photo"]), 3);
    assert_eq!(send(&[b"scan", b"photo"]), 4);
    assert_eq!(send(&[]), 5);
    assert_eq!(send(&[]), 5);
    assert_eq!(store.case(&case.id).unwrap().unwrap().followups, 5);
}

#[test]
fn a_follow_up_to_an_unknown_case_is_not_found_and_leaves_no_blob() {
    let store = backend();
    let m = stage(&store, b"lost");
    let id = m.id.clone();
    let err = store
        .add_followup(&unknown_case(), m, vec![], DAY)
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert!(!store.has_blob(&id));
    assert_eq!(store.cursor().unwrap(), 0);
}

#[test]
fn status_changes_are_dated_in_the_history_and_repeats_are_ignored() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    store
        .set_status(&case.id, Status::InReview, d("2024-05-02"))
        .unwrap();
    store
        .set_status(&case.id, Status::InReview, d("2024-05-03"))
        .unwrap();
    store
        .set_status(&case.id, Status::NeedInfo, d("2024-05-04"))
        .unwrap();
    let case = store.case(&case.id).unwrap().unwrap();
    assert_eq!(case.status, Status::NeedInfo);
    assert_eq!(
        case.history,
        vec![
            (Status::Received, DAY),
            (Status::InReview, d("2024-05-02")),
            (Status::NeedInfo, d("2024-05-04")),
        ]
    );
    assert!(matches!(
        store.set_status(&unknown_case(), Status::Rejected, DAY),
        Err(StoreError::NotFound)
    ));
}

/// A time of day cannot reach the store: every date it takes is a `Day`,
/// and nothing but a calendar date becomes one.
#[test]
fn times_of_day_cannot_become_dates() {
    for when in [
        "2024-05-01T10:11:12Z",
        "2024-05-01 10:11",
        "1714558272",
        "yesterday",
    ] {
        assert!(matches!(
            wbs_store::Day::parse(when),
            Err(StoreError::Invalid(_))
        ));
    }
    let store = backend();
    let case = new_case(&store, 9, 0);
    assert_eq!(case.received_on.to_string(), "2024-05-01");
}

#[test]
fn a_forged_staged_blob_is_refused_and_a_referenced_blob_never_deleted() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    let report = store.objects_of_case(&case.id).unwrap().remove(0);

    // Never staged: no such file.
    let ghost = StagedBlob {
        id: BlobId::parse("0123456789abcdefghjkmnpqrs").unwrap(),
        size: 3,
        sha256: [0; 32],
    };
    let err = store
        .add_followup(&case.id, ghost, vec![], DAY)
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // A "staged" blob that is really the case's report: refused, and the
    // clean-up after the refusal must not delete the report's file.
    let reused = StagedBlob {
        id: report.blob.clone(),
        size: report.size,
        sha256: report.sha256,
    };
    let err = store
        .add_followup(&case.id, reused, vec![], DAY)
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(store.has_blob(&report.blob));
    assert_eq!(read_blob(&store, &report.blob), b"report 1");

    // The same blob twice in one call.
    let once = stage(&store, b"once");
    let twice = StagedBlob {
        id: once.id.clone(),
        size: once.size,
        sha256: once.sha256,
    };
    let err = store
        .create_case(lookup(2), RECIPIENT, DAY, once, vec![twice])
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.all_cases().unwrap().len(), 1);
    assert_eq!(store.cursor().unwrap(), 1);
}

#[test]
fn discarding_removes_a_staged_blob_but_refuses_a_referenced_one() {
    let store = backend();
    let staged = stage(&store, b"not needed after all");
    let id = staged.id.clone();
    assert!(store.has_blob(&id));
    store.discard_blob(staged).unwrap();
    assert!(!store.has_blob(&id));

    let case = new_case(&store, 1, 0);
    let report = store.objects_of_case(&case.id).unwrap().remove(0);
    let forged = StagedBlob {
        id: report.blob.clone(),
        size: report.size,
        sha256: report.sha256,
    };
    assert!(matches!(
        store.discard_blob(forged),
        Err(StoreError::Invalid(_))
    ));
    assert!(store.has_blob(&report.blob));
}

#[test]
fn open_blob_refuses_ids_that_are_not_blob_ids() {
    let store = backend();
    assert!(matches!(
        BlobId::parse("../WBS-STORE"),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.open_blob(&BlobId::parse("0123456789abcdefghjkmnpqrs").unwrap()),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn deleting_a_case_removes_its_records_index_objects_and_files_only() {
    let store = backend();
    let keep = new_case(&store, 1, 1);
    let doomed = new_case(&store, 2, 2);
    let m = stage(&store, b"follow-up");
    store.add_followup(&doomed.id, m, vec![], LATER).unwrap();
    let doomed_blobs: Vec<_> = store
        .objects_of_case(&doomed.id)
        .unwrap()
        .into_iter()
        .map(|o| o.blob)
        .collect();
    assert_eq!(doomed_blobs.len(), 4);
    let cursor = store.cursor().unwrap();

    store.delete_case(&doomed.id).unwrap();

    assert_eq!(store.case(&doomed.id).unwrap(), None);
    assert_eq!(store.case_by_lookup(&lookup(2)).unwrap(), None);
    assert!(store.objects_of_case(&doomed.id).unwrap().is_empty());
    assert!(store
        .all_objects_since(0)
        .unwrap()
        .iter()
        .all(|o| o.case_id == keep.id));
    for blob in &doomed_blobs {
        assert!(!store.has_blob(blob), "{blob} left behind");
    }
    assert_eq!(store.all_cases().unwrap(), vec![keep.clone()]);
    assert_eq!(store.objects_of_case(&keep.id).unwrap().len(), 2);
    // The cursor never goes back, and the lookup can be used again.
    assert_eq!(store.cursor().unwrap(), cursor);
    let again = new_case(&store, 2, 0);
    assert_eq!(again.first_seq, cursor + 1);

    assert!(matches!(
        store.delete_case(&doomed.id),
        Err(StoreError::NotFound)
    ));

    // Nothing was left for the start-up sweep to find.
    let mut store = store;
    store.reopen();
    if let Some(sled) = store.sled() {
        assert_eq!(sled.recovered_leftovers(), 0);
        assert!(sled.missing_blobs().is_empty());
    }
    assert_eq!(
        store.blob_count(),
        3,
        "the kept case's two blobs and the new report"
    );
    assert_eq!(store.all_cases().unwrap().len(), 2);
}

#[test]
fn cases_are_listed_oldest_first_whatever_their_random_ids() {
    let store = backend();
    let created: Vec<_> = (0..30).map(|n| new_case(&store, n, 0).id).collect();
    let mut by_id = created.clone();
    by_id.sort();
    assert_ne!(by_id, created, "ids happened to be created in order");
    let listed: Vec<_> = store
        .all_cases()
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, created);
}

#[test]
fn everything_survives_a_clean_reopen() {
    let mut store = backend();
    let case = new_case(&store, 1, 2);
    store
        .set_status(&case.id, Status::Investigating, LATER)
        .unwrap();
    let (case, objects) = (
        store.case(&case.id).unwrap().unwrap(),
        store.all_objects_since(0).unwrap(),
    );
    store.reopen();
    if let Some(sled) = store.sled() {
        assert_eq!(sled.recovered_leftovers(), 0);
    }
    assert_eq!(store.case_by_lookup(&lookup(1)).unwrap(), Some(case));
    assert_eq!(store.all_objects_since(0).unwrap(), objects);
    for o in &objects {
        assert_eq!(read_blob(&store, &o.blob).len() as u64, o.size);
    }
}
