//! The files for people: `report.md` and the thread entries.

use std::fmt::Write as _;

use wbs_protocol::bundle::CaseManifest;
use wbs_protocol::message::{AttachmentMeta, FollowUp, MetadataNote, Reply, Report};

use super::visitor::Check;
use crate::render::{
    block, code_cell, inline, server_date, server_status, size, AS_THE_SERVER_REPORTS,
    METADATA_NOTICE,
};

/// Where an attachment's local copy is, for the attachment tables.
pub struct LocalFile {
    /// Path relative to the case folder.
    pub relative: String,
    /// Whether it has been decrypted yet (it may come in a later bundle);
    /// `None` in files that must not change once written.
    pub present: Option<bool>,
}

/// Says which values of the file only the server vouches for.
const SERVER_NOTE: &str = "_Dates, statuses and the numbering of follow-ups and replies are \
    as the server reports them: the server could have changed them. Only the text and \
    attachments were decrypted and checked here._\n";

/// `report.md`. `warnings` are shown first, loudly.
pub fn report(
    case: &CaseManifest,
    report: &Report,
    warnings: &[String],
    files: &[LocalFile],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", inline(&report.title));
    let _ = writeln!(
        md,
        "_Decrypted by wbs-inspect. This file is regenerated when a newer bundle of \
         the case is opened: keep your notes elsewhere. The report exactly as received \
         is in `report.json`._\n"
    );
    for w in warnings {
        let _ = writeln!(md, "> **⚠ WARNING:** {}\n", inline(w));
    }
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| Case | `{}` |", case.id);
    let _ = writeln!(
        md,
        "| Received on ({AS_THE_SERVER_REPORTS}) | {} |",
        server_date(&case.received_on)
    );
    let _ = writeln!(md, "| Category | {} |", inline(&report.category));
    let _ = writeln!(
        md,
        "| Status ({AS_THE_SERVER_REPORTS}) | {} |",
        server_status(case.status)
    );
    let _ = writeln!(md, "\n{SERVER_NOTE}");

    if !case.history.is_empty() {
        let _ = writeln!(
            md,
            "## Status history ({AS_THE_SERVER_REPORTS})\n\n| Date | Status |\n|---|---|"
        );
        for h in &case.history {
            let _ = writeln!(
                md,
                "| {} | {} |",
                server_date(&h.on),
                server_status(h.status)
            );
        }
        md.push('\n');
    }

    let _ = writeln!(md, "## Report\n\n{}", block(&report.body));

    if let Some(d) = report.details.as_ref().filter(|d| !d.is_empty()) {
        let _ = writeln!(md, "## Details (5W1H)\n");
        for (label, value) in [
            ("What (apa)", &d.what),
            ("Who (siapa)", &d.who),
            ("When (kapan)", &d.when),
            ("Where (di mana)", &d.r#where),
            ("How (bagaimana)", &d.how),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                let _ = writeln!(md, "### {label}\n\n{}", block(v));
            }
        }
    }

    let _ = writeln!(md, "## Contact\n");
    match report.contact.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => {
            let _ = writeln!(md, "{}", block(c));
        }
        None => {
            let _ = writeln!(
                md,
                "The reporter gave no contact: answer with `wbs-inspect reply`.\n"
            );
        }
    }

    let _ = writeln!(md, "## Attachments\n");
    attachment_table(&mut md, &report.attachments, files);
    md
}

fn attachment_table(md: &mut String, attachments: &[AttachmentMeta], files: &[LocalFile]) {
    if attachments.is_empty() {
        let _ = writeln!(md, "None.\n");
        return;
    }
    let _ = writeln!(
        md,
        "| # | Name | Type | Size | SHA-256 | Local file | Metadata (reporter's device) |\n|---|---|---|---|---|---|---|"
    );
    for (i, (a, f)) in attachments.iter().zip(files).enumerate() {
        let local = match f.present {
            Some(false) => format!(
                "{} (not in the bundles opened so far)",
                code_cell(&f.relative)
            ),
            _ => code_cell(&f.relative),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            inline(&a.name),
            inline(&a.media_type),
            size(a.size),
            code_cell(&a.sha256),
            local,
            metadata_cell(a.metadata.as_ref())
        );
    }
    let _ = writeln!(
        md,
        "\nEach local file was checked against the size and SHA-256 above, which \
         come from inside the encrypted report.\n"
    );
    let _ = writeln!(md, "{METADATA_NOTICE}");
}

/// What the reporter's device says it did with a file's metadata (field
/// names only; PROTOCOL.md §4.1). Untrusted text, shown inline.
fn metadata_cell(note: Option<&MetadataNote>) -> String {
    let Some(note) = note else {
        return "not stated".into();
    };
    let list = |names: &[String]| inline(&names.join(", "));
    let mut parts = Vec::new();
    if !note.checked {
        parts.push("not checked, sent as it was".to_string());
    } else if note.removed.is_empty() && note.kept.is_empty() {
        parts.push("checked, none found".to_string());
    }
    if !note.removed.is_empty() {
        parts.push(format!("removed: {}", list(&note.removed)));
    }
    if !note.kept.is_empty() {
        parts.push(format!("kept by the reporter: {}", list(&note.kept)));
    }
    parts.join("; ")
}

/// `thread/<date>-followup-<NNN>.md`, or `unverified/…` for one that
/// failed verification: then it is never titled as the reporter's.
pub fn followup(
    case_id: &str,
    n: u32,
    on: &str,
    followup: &FollowUp,
    files: &[LocalFile],
    check: &Check,
) -> String {
    let mut md = String::new();
    match check {
        Check::Verified => {
            let _ = writeln!(md, "# Follow-up {n} from the reporter\n");
            let _ = writeln!(
                md,
                "_Verified: its authenticator checks out under the thread key inside the \
                 case's encrypted report, so the reporter wrote it and nobody changed it._\n"
            );
        }
        Check::Unauthenticated => {
            let _ = writeln!(md, "# Follow-up {n} (unauthenticated)\n");
            let _ = writeln!(
                md,
                "> **⚠ Unauthenticated:** the report was sent by a client older than \
                 authenticated threads, so nothing shows that the reporter wrote this \
                 follow-up: anybody who learned the case's lookup key could have sent it.\n"
            );
        }
        Check::Failed(why) => {
            let _ = writeln!(md, "# UNVERIFIED object {n}: NOT the reporter's\n");
            let _ = writeln!(
                md,
                "> **⚠ FAILED VERIFICATION:** {}. This is not the reporter's follow-up: \
                 somebody else (whoever controls the server, or learned the case's lookup \
                 key) made or changed it. It is kept apart from the thread. Do not act on it \
                 as the reporter's word, and be wary of its attachments.\n",
                inline(why)
            );
        }
    }
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| Case | `{case_id}` |");
    let _ = writeln!(
        md,
        "| Received on ({AS_THE_SERVER_REPORTS}) | {} |",
        server_date(on)
    );
    let _ = writeln!(md, "\n{SERVER_NOTE}");
    let _ = writeln!(md, "## Message\n\n{}", block(&followup.body));
    let _ = writeln!(md, "## Attachments\n");
    attachment_table(&mut md, &followup.attachments, files);
    md
}

/// `unverified/<date>-reply-<NNN>.md`: a reply that came in an export.
/// Exports never carry the inspectorate's replies, so whoever put it there
/// is not the inspectorate's tool; it is shown as such.
pub fn reply(case_id: &str, n: u32, on: &str, reply: &Reply) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# UNVERIFIED reply {n} — NOT shown as the inspectorate's\n"
    );
    let _ = writeln!(
        md,
        "> **⚠ KEPT APART:** export bundles never carry the inspectorate's replies (the \
         air-gapped machine keeps its own copy of each, in `thread/…-reply-sent-…`). This one \
         was put into the bundle by somebody else. Do not take it for a reply of ours.\n"
    );
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| Case | `{case_id}` |");
    let _ = writeln!(
        md,
        "| Published on ({AS_THE_SERVER_REPORTS}) | {} |",
        server_date(on)
    );
    let _ = writeln!(md, "\n{SERVER_NOTE}");
    let _ = writeln!(md, "## Message\n\n{}", block(&reply.body));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_cell_names_what_the_reporters_device_did() {
        assert_eq!(metadata_cell(None), "not stated");
        let note = |checked, removed: &[&str], kept: &[&str]| MetadataNote {
            checked,
            removed: removed.iter().map(|s| s.to_string()).collect(),
            kept: kept.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            metadata_cell(Some(&note(true, &["gps", "camera"], &[]))),
            "removed: gps, camera"
        );
        assert_eq!(
            metadata_cell(Some(&note(true, &[], &[]))),
            "checked, none found"
        );
        assert_eq!(
            metadata_cell(Some(&note(false, &[], &[]))),
            "not checked, sent as it was"
        );
        assert_eq!(
            metadata_cell(Some(&note(true, &[], &["author"]))),
            "kept by the reporter: author"
        );
        // The names come from the reporter: they cannot break the table.
        let cell = metadata_cell(Some(&note(true, &["a|b\n| x |"], &[])));
        assert!(!cell.contains('\n') && !cell.contains("a|b"), "{cell}");
    }
}
