//! Post-quantum keys in `wbs-inspect`: `keygen --pq`, opening a bundle that
//! holds classic and post-quantum cases with both identities, and replies
//! that stay of the reporter's kind.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use wbs_protocol::bundle::{Limits, ReplyBundle};
use wbs_protocol::keys::{parse_recipient, Recipient};
use wbs_protocol::message::{Document, Reply};
use wbs_protocol::ReceiptCode;

fn keygen(dir: &Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "keygen".to_string(),
        "--out".into(),
        dir.display().to_string(),
        "--name".into(),
        name.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(args).success().trim_end().to_string()
}

fn recipient_in(pub_file: &Path) -> Recipient {
    let text = fs::read_to_string(pub_file).unwrap();
    parse_recipient(text.lines().last().unwrap()).unwrap()
}

/// The recipient stanza tags of an age file's header.
fn stanza_tags(age: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(&age[..age.len().min(70_000)]).into_owned();
    let end = text.find("\n--- ").unwrap();
    text[..end]
        .lines()
        .filter_map(|l| l.strip_prefix("-> "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

#[test]
fn keygen_pq_makes_a_protected_post_quantum_pair() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write(dir.path(), "pw.txt", b"kata sandi panjang sekali\n");
    let printed = keygen(
        dir.path(),
        "inspektorat-pq",
        &["--pq", "--passphrase-file", pw.to_str().unwrap()],
    );
    assert!(printed.starts_with("age1pq1"), "{printed}");
    let key = fs::read(dir.path().join("inspektorat-pq.key")).unwrap();
    assert!(key.starts_with(b"age-encryption.org/v1\n-> scrypt "));
    assert!(!String::from_utf8_lossy(&key).contains("AGE-SECRET-KEY"));
    let public = fs::read_to_string(dir.path().join("inspektorat-pq.pub")).unwrap();
    assert!(public.contains("post-quantum recipient"), "{public}");
    let recipient = recipient_in(&dir.path().join("inspektorat-pq.pub"));
    assert_eq!(recipient.to_string(), printed);
    // The .pub is what the server reads.
    let read = wbs_protocol::keys::read_pub_files(dir.path()).unwrap();
    assert!(read.post_quantum());
}

#[test]
fn a_bundle_of_classic_and_post_quantum_cases_opens_with_both_identities() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write(dir.path(), "pw.txt", b"kata sandi panjang sekali\n");
    let pw_arg = pw.to_str().unwrap();
    keygen(dir.path(), "lama", &["--passphrase-file", pw_arg]);
    keygen(dir.path(), "baru", &["--pq", "--passphrase-file", pw_arg]);
    let classic = recipient_in(&dir.path().join("lama.pub"));
    let post_quantum = recipient_in(&dir.path().join("baru.pub"));

    // A case from before the move, and one after it.
    let old_code = ReceiptCode::generate();
    let new_code = ReceiptCode::generate_long();
    let old_reply = old_code.case_reply_recipient();
    let new_reply = new_code.case_reply_recipient();
    assert!(new_reply.starts_with("age1pq1"));
    let old_case = CaseBuild::new(
        "case-1",
        &old_reply,
        report_objects(
            std::slice::from_ref(&classic),
            &report("Lama", &old_reply, vec![]),
            &[],
        ),
    );
    let new_case = CaseBuild::new(
        "case-2",
        &new_reply,
        report_objects(
            std::slice::from_ref(&post_quantum),
            &report("Baru", &new_reply, vec![]),
            &[],
        ),
    );
    let bundle_path = write(
        dir.path(),
        "b.tar",
        &bundle(&[old_case, new_case], &[post_quantum.to_string()]),
    );
    let out = dir.path().join("out");
    let (lama, baru) = (dir.path().join("lama.key"), dir.path().join("baru.key"));
    run([
        "open".as_ref(),
        bundle_path.as_os_str(),
        "--identity".as_ref(),
        lama.as_os_str(),
        "--identity".as_ref(),
        baru.as_os_str(),
        "--passphrase-file".as_ref(),
        pw.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .success();
    for (case, title) in [("case-1", "Lama"), ("case-2", "Baru")] {
        let report = fs::read_to_string(out.join(case).join("report.json")).unwrap();
        assert!(report.contains(title), "{case}: {report}");
    }

    // Each case is answered in its own kind, to the reporter and the key of
    // that kind.
    let replies = dir.path().join("replies.tar");
    for (case, code) in [("case-1", &old_code), ("case-2", &new_code)] {
        let message = write(dir.path(), "m.txt", b"Terima kasih.\n");
        run([
            "reply".as_ref(),
            "--case".as_ref(),
            out.join(case).as_os_str(),
            "--message".as_ref(),
            message.as_os_str(),
            "--out".as_ref(),
            replies.as_os_str(),
        ])
        .success();
        let bundle =
            ReplyBundle::read(fs::File::open(&replies).unwrap(), &Limits::REPLIES).unwrap();
        let item = bundle
            .manifest
            .items
            .iter()
            .find(|i| i.case_id == case)
            .unwrap();
        let sealed = &bundle.files[&item.reply_path()];
        let expected = if code.is_long() {
            "mlkem768x25519"
        } else {
            "X25519"
        };
        let tags: Vec<String> = stanza_tags(sealed)
            .into_iter()
            .filter(|t| !t.ends_with("-grease"))
            .collect();
        assert_eq!(tags, [expected, expected], "{case}");
        let reply = Reply::open(&code.case_reply_identity(), sealed).unwrap();
        assert_eq!(reply.body, "Terima kasih.\n");
    }
}
