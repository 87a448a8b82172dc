//! Snapshots and restores: a snapshot is consistent while writers run, its
//! blobs stay while it is in use, and a restore rebuilds the same store (or
//! refuses, leaving nothing behind).

mod common;

use std::fs;

use common::*;
use wbs_protocol::Status;
use wbs_store::{
    BlobStore, DigestState, ImportItem, MetaStore, SledStore, Store, StoreError, StoreRecords,
};

/// A store with a bit of everything: attachments, a follow-up, a reply,
/// status changes, tokens, audit entries, a deleted case.
fn populated(data: &std::path::Path) -> SledStore {
    let store = SledStore::create_or_open(data).unwrap();
    let a = new_case(&store, 1, 2);
    let b = new_case(&store, 2, 0);
    let gone = new_case(&store, 3, 1);
    let m = stage(&store, b"follow-up");
    let fa = stage(&store, b"follow-up attachment");
    store.add_followup(&a.id, m, vec![fa], LATER).unwrap();
    store.set_status(&b.id, Status::InReview, LATER).unwrap();
    let reply = stage(&store, b"reply");
    store
        .apply_import(
            vec![ImportItem {
                item_id: "item-1".into(),
                case_id: a.id.clone(),
                status: Some(Status::NeedInfo),
                reply: Some(("r1".into(), reply)),
            }],
            LATER,
        )
        .unwrap();
    store.add_token(&tn("siti"), [1; 32], None).unwrap();
    store.add_token(&tn("budi"), [2; 32], None).unwrap();
    store.revoke_token(&tn("budi")).unwrap();
    store
        .add_token(&tn("dewi"), [4; 32], Some(vec![7; 48]))
        .unwrap();
    assert!(store.accept_totp_step(&[4; 32], 56_789_012).unwrap());
    store
        .set_digest_state(&DigestState {
            cursor: 3,
            sent_on: LATER.into(),
        })
        .unwrap();
    store.audit("siti", "export", "since=0").unwrap();
    store.delete_case(&gone.id).unwrap();
    store
}

/// Restores `records` into `dir`, copying blobs from `from`.
fn restore_from(from: &dyn Store, records: StoreRecords, dir: &std::path::Path) -> SledStore {
    let mut restore = SledStore::restore(dir, records.clone()).unwrap();
    for blob in records.blobs() {
        let mut file = from.open_blob(&blob.id).unwrap();
        restore.write_blob(&blob.id, &mut file).unwrap();
    }
    restore.finish().unwrap()
}

#[test]
fn a_restore_rebuilds_the_same_store_with_working_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let original = populated(&data(&dir));
    let snap = original.snapshot().unwrap();
    snap.records.check().unwrap();
    assert_eq!(snap.records.cases.len(), 2);
    assert_eq!(snap.records.objects.len(), 7);

    let target = dir.path().join("restored");
    let restored = restore_from(&original, snap.records.clone(), &target);

    assert_eq!(restored.all_cases().unwrap(), original.all_cases().unwrap());
    assert_eq!(
        restored.all_objects_since(0).unwrap(),
        original.all_objects_since(0).unwrap()
    );
    assert_eq!(restored.cursor().unwrap(), original.cursor().unwrap());
    assert_eq!(restored.all_audit().unwrap(), original.all_audit().unwrap());
    assert_eq!(
        restored.list_tokens().unwrap(),
        original.list_tokens().unwrap()
    );
    // The rebuilt indexes answer like the original ones.
    for n in [1, 2] {
        assert_eq!(
            restored.case_by_lookup(&lookup(n)).unwrap(),
            original.case_by_lookup(&lookup(n)).unwrap()
        );
    }
    assert_eq!(restored.case_by_lookup(&lookup(3)).unwrap(), None);
    assert_eq!(
        restored.token_name(&[1; 32]).unwrap().as_deref(),
        Some("siti")
    );
    assert_eq!(restored.token_name(&[2; 32]).unwrap(), None);
    for o in restored.all_objects_since(0).unwrap() {
        assert_eq!(read_blob(&restored, &o.blob), read_blob(&original, &o.blob));
    }
    // The same snapshot again is the same document: records are read in
    // key order, so a backup of an unchanged store is reproducible.
    assert_eq!(restored.snapshot().unwrap().records, snap.records);

    // A TOTP second factor comes back sealed as it was, with its last
    // accepted step: a code used before the backup stays used.
    let dewi = restored.token_auth(&[4; 32]).unwrap().unwrap();
    assert_eq!(Some(dewi.clone()), original.token_auth(&[4; 32]).unwrap());
    let totp = dewi.totp.unwrap();
    assert_eq!((totp.sealed, totp.last_step), (vec![7; 48], 56_789_012));
    assert!(!restored.accept_totp_step(&[4; 32], 56_789_012).unwrap());
    assert!(restored.accept_totp_step(&[4; 32], 56_789_013).unwrap());
    // So does the daily digest's place.
    assert_eq!(restored.digest_state().unwrap().cursor, 3);

    // A re-pushed reply bundle is still recognised, and the restored store
    // goes on numbering where the original stopped.
    let (applied, skipped) = restored
        .apply_import(
            vec![ImportItem {
                item_id: "item-1".into(),
                case_id: snap.records.cases[0].case.id.clone(),
                status: Some(Status::ClosedSubstantiated),
                reply: None,
            }],
            LATER,
        )
        .unwrap();
    assert_eq!((applied, skipped), (0, 1));
    let c = new_case(&restored, 9, 0);
    assert_eq!(c.first_seq, snap.records.last_seq + 1);
    assert!(restored.missing_blobs().is_empty());
}

#[test]
fn a_restore_refuses_a_directory_that_is_not_empty_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let original = populated(&data(&dir));
    let records = original.snapshot().unwrap().records.clone();
    let target = dir.path().join("busy");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("notes.txt"), b"operator's file").unwrap();
    match SledStore::restore(&target, records.clone()) {
        Err(StoreError::Invalid(msg)) => assert!(msg.contains("not empty"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(files_under(&target), vec![target.join("notes.txt")]);
    // Nor into the live store's own directory.
    assert!(SledStore::restore(&data(&dir), records).is_err());
}

#[test]
fn a_blob_that_does_not_match_its_record_is_refused_and_nothing_stays() {
    let dir = tempfile::tempdir().unwrap();
    let original = populated(&data(&dir));
    let records = original.snapshot().unwrap().records.clone();
    let target = dir.path().join("restored");
    let mut restore = SledStore::restore(&target, records.clone()).unwrap();
    let blobs = records.blobs();
    let mut good = original.open_blob(&blobs[0].id).unwrap();
    restore.write_blob(&blobs[0].id, &mut good).unwrap();
    let mut damaged = read_blob(&original, &blobs[1].id);
    damaged[0] ^= 1;
    let err = restore
        .write_blob(&blobs[1].id, &mut &damaged[..])
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    // A blob no record names is refused too.
    let err = restore
        .write_blob("0123456789abcdefghjkmnpqrs", &mut &b"x"[..])
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(restore.missing_blobs().len(), blobs.len() - 1);
    // Finishing with blobs missing fails, and cleans up after itself.
    assert!(matches!(restore.finish(), Err(StoreError::Corrupt(_))));
    assert!(!target.exists(), "a half restore was left behind");
}

#[test]
fn inconsistent_records_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let original = populated(&data(&dir));
    let records = original.snapshot().unwrap().records.clone();
    let target = dir.path().join("restored");

    let mut orphan = records.clone();
    orphan.cases.remove(0);
    let mut counts = records.clone();
    counts.cases[0].case.bytes += 1;
    let mut twice = records.clone();
    let dup = twice.objects[0].blob.clone();
    twice.objects[1].blob = dup;
    let mut format = records.clone();
    format.format = "wbs-store-records/9".into();
    for (what, bad) in [
        ("object of a missing case", orphan),
        ("wrong byte count", counts),
        ("shared blob", twice),
        ("unknown format", format),
    ] {
        assert!(bad.check().is_err(), "{what} passed the check");
        assert!(
            SledStore::restore(&target, bad).is_err(),
            "{what} was restored"
        );
        assert!(!target.exists(), "{what}: something was written");
    }
    // A time of day cannot even be read as records: dates are typed.
    let json = serde_json::to_string(&records).unwrap();
    let on = records.audit[0].on.to_string();
    let timed = json.replacen(
        &format!("\"on\":\"{on}\""),
        "\"on\":\"2024-05-01T10:00:00Z\"",
        1,
    );
    assert_ne!(timed, json);
    assert!(serde_json::from_str::<StoreRecords>(&timed).is_err());
}

#[test]
fn the_blobs_of_a_snapshot_stay_until_it_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::create_or_open(&data(&dir)).unwrap();
    let case = new_case(&store, 1, 1);
    let other = new_case(&store, 2, 0);
    let blobs: Vec<wbs_store::BlobId> = store
        .objects_of_case(&case.id)
        .unwrap()
        .into_iter()
        .map(|o| o.blob)
        .collect();
    let snap = store.snapshot().unwrap();
    let second = store.snapshot().unwrap();
    store.delete_case(&case.id).unwrap();
    assert_eq!(store.case(&case.id).unwrap(), None);
    for b in &blobs {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut snap.open_blob(b).unwrap(), &mut bytes).unwrap();
        assert!(!bytes.is_empty(), "blob {b} went too early");
    }
    drop(snap);
    for b in &blobs {
        assert!(
            blob_path(&data(&dir), b).exists(),
            "one snapshot still holds {b}"
        );
    }
    drop(second);
    for b in &blobs {
        assert!(!blob_path(&data(&dir), b).exists(), "blob {b} stayed");
    }
    // Without a snapshot, deleting removes the files at once.
    let last = store.objects_of_case(&other.id).unwrap()[0].blob.clone();
    store.delete_case(&other.id).unwrap();
    assert!(!blob_path(&data(&dir), &last).exists());
}
