//! Applying reply bundles: all or nothing, idempotent per item.

use crate::backend;
use crate::common::*;
use wbs_protocol::Status;
use wbs_store::{CaseId, ImportItem, ObjectKind, ReplyRecord, StoreError};

fn reply_item(store: &Fx, item: &str, case: &CaseId, reply_id: &str) -> ImportItem {
    ImportItem {
        item_id: item.into(),
        case_id: case.clone(),
        status: None,
        reply: Some((
            reply_id.into(),
            stage(store, format!("reply {reply_id}").as_bytes()),
        )),
    }
}

fn status_item(item: &str, case: &CaseId, status: Status) -> ImportItem {
    ImportItem {
        item_id: item.into(),
        case_id: case.clone(),
        status: Some(status),
        reply: None,
    }
}

#[test]
fn a_bundle_sets_statuses_and_adds_numbered_replies() {
    let store = backend();
    let a = new_case(&store, 1, 0);
    let b = new_case(&store, 2, 0);
    let mut both = reply_item(&store, "i3", &b.id, "r-b1");
    both.status = Some(Status::NeedInfo);
    let items = vec![
        status_item("i1", &a.id, Status::Investigating),
        reply_item(&store, "i2", &a.id, "r-a1"),
        both,
        reply_item(&store, "i4", &a.id, "r-a2"),
    ];
    assert_eq!(store.apply_import(items, LATER).unwrap(), (4, 0));

    let a = store.case(&a.id).unwrap().unwrap();
    assert_eq!(a.status, Status::Investigating);
    assert_eq!(a.history.last().unwrap(), &(Status::Investigating, LATER));
    let ids: Vec<_> = a.replies.iter().map(|r| (r.id.as_str(), r.n)).collect();
    assert_eq!(ids, [("r-a1", 1), ("r-a2", 2)]);
    assert_eq!(read_blob(&store, &a.replies[1].blob), b"reply r-a2");
    assert_eq!((a.objects, a.last_seq), (3, 5));

    let b = store.case(&b.id).unwrap().unwrap();
    assert_eq!(b.status, Status::NeedInfo);
    let ReplyRecord {
        id, n, size, on, ..
    } = &b.replies[0];
    assert_eq!((id.as_str(), *n, *size, *on), ("r-b1", 1, 10, LATER));
    let kinds: Vec<_> = store
        .objects_of_case(&b.id)
        .unwrap()
        .iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(kinds, [ObjectKind::Report, ObjectKind::Reply { n: 1 }]);
}

#[test]
fn pushing_a_bundle_again_skips_what_was_applied_and_drops_the_new_copies() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    let first = vec![
        reply_item(&store, "i1", &case.id, "r1"),
        status_item("i2", &case.id, Status::InReview),
    ];
    assert_eq!(store.apply_import(first, DAY).unwrap(), (2, 0));
    let files = store.blob_count();
    let cursor = store.cursor().unwrap();

    // The same bundle plus one new item.
    let again = vec![
        reply_item(&store, "i1", &case.id, "r1"),
        status_item("i2", &case.id, Status::InReview),
        reply_item(&store, "i3", &case.id, "r2"),
    ];
    assert_eq!(store.apply_import(again, LATER).unwrap(), (1, 2));
    let case = store.case(&case.id).unwrap().unwrap();
    assert_eq!(case.replies.len(), 2);
    assert_eq!(case.history.len(), 2, "the status was not applied twice");
    assert_eq!(store.cursor().unwrap(), cursor + 1);
    // Only the new reply's blob was added; the duplicate of r1 is gone.
    assert_eq!(store.blob_count(), files + 1);
}

#[test]
fn an_unknown_case_fails_the_whole_bundle_and_changes_nothing() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    let files = store.blob_count();
    let items = vec![
        status_item("i1", &case.id, Status::Rejected),
        reply_item(&store, "i2", &case.id, "r1"),
        reply_item(&store, "i3", &unknown_case(), "r2"),
    ];
    let err = store.apply_import(items, LATER).unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    assert_eq!(store.case(&case.id).unwrap().unwrap(), case);
    assert_eq!(store.cursor().unwrap(), case.last_seq);
    assert_eq!(store.blob_count(), files);
    // Nothing was marked as applied either: the good items apply later.
    let retry = vec![
        status_item("i1", &case.id, Status::Rejected),
        reply_item(&store, "i2", &case.id, "r1"),
    ];
    assert_eq!(store.apply_import(retry, LATER).unwrap(), (2, 0));
}

#[test]
fn a_reply_id_used_twice_in_a_case_fails_the_bundle() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    let items = vec![reply_item(&store, "i1", &case.id, "r1")];
    store.apply_import(items, DAY).unwrap();
    let items = vec![
        status_item("i2", &case.id, Status::Forwarded),
        reply_item(&store, "i3", &case.id, "r1"),
    ];
    let err = store.apply_import(items, LATER).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let now = store.case(&case.id).unwrap().unwrap();
    assert_eq!((now.status, now.replies.len()), (Status::Received, 1));
}

#[test]
fn an_item_id_repeated_within_one_bundle_applies_once() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    let items = vec![
        reply_item(&store, "same", &case.id, "r1"),
        reply_item(&store, "same", &case.id, "r2"),
    ];
    assert_eq!(store.apply_import(items, DAY).unwrap(), (1, 1));
    assert_eq!(store.case(&case.id).unwrap().unwrap().replies.len(), 1);
}

#[test]
fn items_applied_before_their_case_was_deleted_are_still_skipped() {
    let store = backend();
    let gone = new_case(&store, 1, 0);
    let kept = new_case(&store, 2, 0);
    store
        .apply_import(vec![reply_item(&store, "old", &gone.id, "r1")], DAY)
        .unwrap();
    store.delete_case(&gone.id).unwrap();
    // An old bundle pushed again, with one new item for another case.
    let items = vec![
        reply_item(&store, "old", &gone.id, "r1"),
        status_item("new", &kept.id, Status::InReview),
    ];
    assert_eq!(store.apply_import(items, LATER).unwrap(), (1, 1));
}

#[test]
fn an_empty_item_id_is_invalid() {
    let store = backend();
    let case = new_case(&store, 1, 0);
    let err = store
        .apply_import(vec![status_item("", &case.id, Status::InReview)], DAY)
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(
        store.case(&case.id).unwrap().unwrap().status,
        Status::Received
    );
}
