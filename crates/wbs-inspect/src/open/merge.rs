//! Merging a case's manifest across bundles.
//!
//! Bundles come one after another (`wbs-desk pull --since`), and may be
//! opened again or out of order. The `case.json` in a case folder is the
//! tool's record of everything opened so far for that case.

use wbs_protocol::bundle::CaseManifest;

use crate::error::{Error, Result};

/// Merges this bundle's `case.json` into the one from earlier runs: objects
/// are the union (the same path with other bytes is refused), and the status
/// comes from whichever has the longer history, so opening an older bundle
/// after a newer one does not turn the clock back.
pub fn merge(earlier: Option<CaseManifest>, new: &CaseManifest) -> Result<CaseManifest> {
    let Some(old) = earlier else {
        return Ok(new.clone());
    };
    if old.id != new.id {
        return Err(Error::case(
            &new.id,
            format!(
                "the case.json already in its folder is for case {:?}",
                old.id
            ),
        ));
    }
    let mut objects = old.objects.clone();
    for o in &new.objects {
        match objects.iter().find(|e| e.path == o.path) {
            Some(e) if e.sha256.eq_ignore_ascii_case(&o.sha256) => {}
            Some(e) => {
                return Err(Error::case(
                    &new.id,
                    format!(
                        "{:?} in this bundle (SHA-256 {}) differs from the one opened earlier \
                         ({}); refusing to mix them",
                        o.path, o.sha256, e.sha256
                    ),
                ))
            }
            None => objects.push(o.clone()),
        }
    }
    let newer = if new.history.len() >= old.history.len() {
        new
    } else {
        &old
    };
    Ok(CaseManifest {
        id: new.id.clone(),
        received_on: newer.received_on.clone(),
        status: newer.status,
        history: newer.history.clone(),
        reply_recipient: newer.reply_recipient.clone(),
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wbs_protocol::api::HistoryEntry;
    use wbs_protocol::bundle::{ObjectEntry, ObjectKind};
    use wbs_protocol::Status;

    fn entry(kind: ObjectKind, sha: &str) -> ObjectEntry {
        ObjectEntry {
            path: kind.path(),
            kind,
            size: 1,
            sha256: sha.into(),
            on: "2026-11-27".into(),
        }
    }

    fn manifest(statuses: &[Status], objects: Vec<ObjectEntry>) -> CaseManifest {
        CaseManifest {
            id: "c1".into(),
            received_on: "2026-11-27".into(),
            status: *statuses.last().unwrap(),
            history: statuses
                .iter()
                .map(|s| HistoryEntry {
                    status: *s,
                    on: "2026-11-27".into(),
                })
                .collect(),
            reply_recipient: "age1x".into(),
            objects,
        }
    }

    #[test]
    fn merge_unions_objects_and_keeps_the_longer_history() {
        let a = "aa".repeat(32);
        let b = "bb".repeat(32);
        let first = manifest(
            &[Status::Received, Status::InReview],
            vec![entry(ObjectKind::Report, &a)],
        );
        let second = manifest(
            &[Status::Received],
            vec![entry(ObjectKind::Followup { n: 1 }, &b)],
        );
        let merged = merge(Some(first.clone()), &second).unwrap();
        assert_eq!(merged.status, Status::InReview);
        assert_eq!(merged.objects.len(), 2);
        let merged = merge(Some(second), &first).unwrap();
        assert_eq!(merged.status, Status::InReview);
        assert_eq!(merged.objects.len(), 2);
    }

    #[test]
    fn merge_refuses_the_same_object_with_other_bytes() {
        let first = manifest(
            &[Status::Received],
            vec![entry(ObjectKind::Report, &"aa".repeat(32))],
        );
        let second = manifest(
            &[Status::Received],
            vec![entry(ObjectKind::Report, &"cc".repeat(32))],
        );
        assert!(merge(Some(first), &second).is_err());
    }
}
