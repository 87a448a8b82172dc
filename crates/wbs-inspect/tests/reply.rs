//! `wbs-inspect reply`: reply bundles that the reporter (with the keys
//! derived from their receipt code) and the inspectorate can both read.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use age::x25519;
use common::*;
use wbs_protocol::bundle::{is_valid_id, Limits, ReplyBundle};
use wbs_protocol::message::{Document, Reply};
use wbs_protocol::{ReceiptCode, Status};

struct Opened {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    inspectorate: x25519::Identity,
    receipt: ReceiptCode,
    /// The key a compromised server put in case.json.
    intruder: x25519::Identity,
}

impl Opened {
    fn case(&self) -> PathBuf {
        self.root.join("out/case-1")
    }
    fn replies(&self) -> PathBuf {
        self.root.join("replies.tar")
    }
}

/// A case opened with `wbs-inspect open`, whose server-side reply recipient
/// was swapped for an intruder's.
fn opened_case() -> Opened {
    opened_case_listing(&[])
}

/// [`opened_case`], from an export whose `export.json` lists
/// `server_listed` as the inspectorate's keys.
fn opened_case_listing(server_listed: &[String]) -> Opened {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let inspectorate = x25519::Identity::generate();
    let key = write_identity(&root, "inspektorat.key", &inspectorate);
    let receipt = ReceiptCode::generate();
    let intruder = x25519::Identity::generate();
    let rep = report(
        "Perlu dijawab",
        &receipt.reply_recipient().to_string(),
        vec![],
    );
    let case = CaseBuild::new(
        "case-1",
        &intruder.to_public().to_string(),
        report_objects(&[inspectorate.to_public()], &rep, &[]),
    );
    let bundle_path = write(&root, "export.tar", &bundle(&[case], server_listed));
    let out = root.join("out");
    run([
        "open".as_ref(),
        bundle_path.as_os_str(),
        "--identity".as_ref(),
        key.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .success();
    Opened {
        _tmp: tmp,
        root,
        inspectorate,
        receipt,
        intruder,
    }
}

fn reply_args(case: &Path, message: &str, out: &Path, status: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "reply".to_string(),
        "--case".into(),
        case.display().to_string(),
        "--message".into(),
        message.into(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Some(s) = status {
        args.extend(["--status".to_string(), s.to_string()]);
    }
    args
}

fn read_bundle(path: &Path) -> ReplyBundle {
    ReplyBundle::read(fs::File::open(path).unwrap(), &Limits::REPLIES).unwrap()
}

#[test]
fn reply_creates_a_bundle_then_adds_to_it() {
    let o = opened_case();
    let message = write(
        &o.root,
        "msg.txt",
        "Mohon kirim dokumen kontrak.\n".as_bytes(),
    );
    let run1 = run(reply_args(
        &o.case(),
        message.to_str().unwrap(),
        &o.replies(),
        Some("need_info"),
    ));
    let line = run1.success();
    let b1 = read_bundle(&o.replies());
    assert_eq!(b1.manifest.items.len(), 1);
    let first = b1.manifest.items[0].clone();
    assert_eq!(
        line,
        format!(
            "added reply {} and status need_info for case case-1 to {} (1 item in the bundle)\n",
            first.id,
            o.replies().display()
        )
    );
    assert_eq!(first.case_id, "case-1");
    assert_eq!(first.status, Some(Status::NeedInfo));
    assert!(is_valid_id(&first.id) && first.id.len() == 20);

    // The reporter reads it with the key derived from the receipt code; the
    // inspectorate with its own; the server's intruder key cannot.
    let sealed = &b1.files[&first.reply_path()];
    let reporter_view = Reply::open(&o.receipt.reply_identity(), sealed).unwrap();
    assert_eq!(reporter_view.body, "Mohon kirim dokumen kontrak.\n");
    assert_eq!(Reply::open(&o.inspectorate, sealed).unwrap(), reporter_view);
    assert!(Reply::open(&o.intruder, sealed).is_err());

    // A second reply, from standard input, without a status change.
    let run2 = run_with_stdin(
        reply_args(&o.case(), "-", &o.replies(), None),
        "Terima kasih atas dokumennya.".as_bytes(),
    );
    assert!(
        run2.success().contains("(2 items in the bundle)"),
        "{}",
        run2.stdout
    );
    let b2 = read_bundle(&o.replies());
    assert_eq!(b2.manifest.items.len(), 2);
    assert_eq!(b2.manifest.items[0], first);
    assert_eq!(b2.files[&first.reply_path()], *sealed);
    let second = &b2.manifest.items[1];
    assert_ne!(second.id, first.id);
    assert_eq!(second.status, None);
    let body = Reply::open(&o.receipt.reply_identity(), &b2.files[&second.reply_path()])
        .unwrap()
        .body;
    assert_eq!(body, "Terima kasih atas dokumennya.");

    // The investigator keeps a record of each sent reply in the thread.
    let today = wbs_protocol::date::today_utc();
    for (item, text) in [
        (&first, "Mohon kirim dokumen kontrak."),
        (second, "Terima kasih atas dokumennya."),
    ] {
        let record = o
            .case()
            .join(format!("thread/{today}-reply-sent-{}.md", item.id));
        let md = fs::read_to_string(&record).unwrap();
        assert!(md.contains(text) && md.contains(&item.id), "{md}");
    }
    assert!(fs::read_to_string(
        o.case()
            .join(format!("thread/{today}-reply-sent-{}.md", first.id))
    )
    .unwrap()
    .contains("need_info"));
}

#[test]
fn reply_refuses_a_file_that_is_not_a_reply_bundle() {
    let o = opened_case();
    let message = write(&o.root, "msg.txt", b"Halo");
    fs::write(o.replies(), b"my notes, not a tar").unwrap();
    let run = run(reply_args(
        &o.case(),
        message.to_str().unwrap(),
        &o.replies(),
        None,
    ));
    assert!(
        run.failure().contains("is not a valid reply bundle"),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read(o.replies()).unwrap(), b"my notes, not a tar");
    assert!(!o.case().join("thread").exists());
}

#[test]
fn reply_refuses_bad_input_before_writing_anything() {
    let o = opened_case();
    let message = write(&o.root, "msg.txt", b"Halo");
    let empty = write(&o.root, "empty.txt", b"  \n");
    let not_utf8 = write(&o.root, "bin.txt", &[0xff, 0xfe, 0x00]);

    let bad_status = run(reply_args(
        &o.case(),
        message.to_str().unwrap(),
        &o.replies(),
        Some("closed"),
    ));
    assert_eq!(bad_status.code, Some(2));
    assert!(
        bad_status.failure().contains("unknown status"),
        "{}",
        bad_status.stderr
    );

    // Under the byte limit, but six times longer once escaped in JSON.
    let escapes = write(&o.root, "esc.txt", &[0x01; 1000 * 1000]);
    for (msg, expected) in [
        (&empty, "empty"),
        (&not_utf8, "not UTF-8"),
        (&escapes, "too long for the reporter's client"),
    ] {
        let run = run(reply_args(
            &o.case(),
            msg.to_str().unwrap(),
            &o.replies(),
            None,
        ));
        assert!(run.failure().contains(expected), "{}", run.stderr);
    }

    // A folder that `open` did not make, or that never got its report.
    let stray = o.root.join("out/case-2");
    fs::create_dir_all(&stray).unwrap();
    let run2 = run(reply_args(
        &stray,
        message.to_str().unwrap(),
        &o.replies(),
        None,
    ));
    assert!(run2.failure().contains("is missing"), "{}", run2.stderr);

    assert!(!o.replies().exists());
    assert!(!o.case().join("thread").exists());
}

#[test]
fn a_report_without_a_valid_reply_recipient_cannot_be_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let inspectorate = x25519::Identity::generate();
    let key = write_identity(root, "k.key", &inspectorate);
    let rep = report("Tanpa kunci", "not-a-recipient", vec![]);
    let case = CaseBuild::new(
        "case-1",
        "not-a-recipient",
        report_objects(&[inspectorate.to_public()], &rep, &[]),
    );
    let bundle_path = write(root, "export.tar", &bundle(&[case], &[]));
    let out = root.join("out");
    let opened = run([
        "open".as_ref(),
        bundle_path.as_os_str(),
        "--identity".as_ref(),
        key.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    opened.success();
    assert!(
        opened.stderr.contains("the reporter cannot be answered"),
        "{}",
        opened.stderr
    );

    let message = write(root, "msg.txt", b"Halo");
    let replies = root.join("replies.tar");
    let run = run(reply_args(
        &out.join("case-1"),
        message.to_str().unwrap(),
        &replies,
        None,
    ));
    assert_eq!(
        run.failure(),
        "wbs-inspect: case case-1: the report carries no valid reply recipient: the reporter \
         cannot be answered"
    );
    assert!(!replies.exists());
}

fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// Writes `keys` as `.pub` files into a new folder `root/name`.
fn pub_folder(root: &Path, name: &str, keys: &[&x25519::Identity]) -> PathBuf {
    let dir = root.join(name);
    fs::create_dir(&dir).unwrap();
    for (i, k) in keys.iter().enumerate() {
        fs::write(
            dir.join(format!("k{i}.pub")),
            format!("# key {i}\n{}\n", k.to_public()),
        )
        .unwrap();
    }
    dir
}

#[test]
fn a_key_the_server_listed_is_never_used_unless_the_investigator_says_so() {
    // The server lists our key and another: a colleague's, or its own.
    let stranger = x25519::Identity::generate();
    let stranger_pub = stranger.to_public().to_string();
    let o = opened_case_listing(std::slice::from_ref(&stranger_pub));
    let message = write(&o.root, "msg.txt", b"Mohon kirim dokumen kontrak.");
    let base = reply_args(&o.case(), message.to_str().unwrap(), &o.replies(), None);

    // By default: refused, the key named, nothing written.
    let refused = run(base.clone());
    let line = refused.failure();
    assert!(
        line.contains(&stranger_pub)
            && line.contains("--recipients")
            && line.contains("--trust-server-recipients"),
        "{line}"
    );
    assert!(!o.replies().exists());
    assert!(!o.case().join("thread").exists());

    // A trusted list without this identity's own key: refused too.
    let only_stranger = pub_folder(&o.root, "only-stranger", &[&stranger]);
    let refused = run(with(
        base.clone(),
        &["--recipients", only_stranger.to_str().unwrap()],
    ));
    assert!(
        refused
            .failure()
            .contains("do not include this identity's own key"),
        "{}",
        refused.stderr
    );
    assert!(!o.replies().exists());

    // A trusted list with ours and the colleague's: both can read it.
    let trusted = pub_folder(&o.root, "trusted", &[&o.inspectorate, &stranger]);
    run(with(
        base.clone(),
        &["--recipients", trusted.to_str().unwrap()],
    ))
    .success();
    let b = read_bundle(&o.replies());
    let sealed = &b.files[&b.manifest.items[0].reply_path()];
    assert!(Reply::open(&o.receipt.reply_identity(), sealed).is_ok());
    assert!(Reply::open(&o.inspectorate, sealed).is_ok());
    assert!(Reply::open(&stranger, sealed).is_ok());
    assert_eq!(x25519_stanzas(sealed), 3);

    // The explicit opt-in: the server's list, named on stderr.
    let trusting = run(with(base.clone(), &["--trust-server-recipients"]));
    trusting.success();
    assert!(
        trusting.stderr.contains(&stranger_pub),
        "{}",
        trusting.stderr
    );
    let b = read_bundle(&o.replies());
    let sealed = &b.files[&b.manifest.items[1].reply_path()];
    assert!(Reply::open(&stranger, sealed).is_ok());
    assert!(Reply::open(&o.intruder, sealed).is_err());

    // Both at once is a usage error.
    let both = run(with(
        base,
        &[
            "--trust-server-recipients",
            "--recipients",
            trusted.to_str().unwrap(),
        ],
    ));
    assert_eq!(both.code, Some(2), "{}", both.stderr);
}

#[test]
fn without_other_keys_listed_a_reply_goes_to_the_reporter_and_our_own_key_only() {
    let o = opened_case();
    let message = write(&o.root, "msg.txt", b"Halo");
    run(reply_args(
        &o.case(),
        message.to_str().unwrap(),
        &o.replies(),
        None,
    ))
    .success();
    let b = read_bundle(&o.replies());
    let sealed = &b.files[&b.manifest.items[0].reply_path()];
    assert_eq!(x25519_stanzas(sealed), 2);
    assert!(Reply::open(&o.inspectorate, sealed).is_ok());
    assert!(Reply::open(&o.receipt.reply_identity(), sealed).is_ok());
}

/// How many recipients an age file is encrypted to.
fn x25519_stanzas(age: &[u8]) -> usize {
    let end = age
        .windows(4)
        .position(|w| w == b"\n---")
        .expect("an age header");
    String::from_utf8_lossy(&age[..end])
        .lines()
        .filter(|l| l.starts_with("-> X25519 "))
        .count()
}

#[test]
fn a_hostile_key_the_server_listed_reaches_no_terminal_as_an_escape() {
    let hostile = "age1\u{1b}]52;c;cm0gLXJmIH4K\u{7}\u{9b}2J\u{202e}x".to_string();
    let o = opened_case_listing(&[hostile]);
    let message = write(&o.root, "msg.txt", b"Halo");
    for extra in [&[][..], &["--trust-server-recipients"][..]] {
        let refused = run(with(
            reply_args(&o.case(), message.to_str().unwrap(), &o.replies(), None),
            extra,
        ));
        let line = refused.failure();
        assert!(line.contains("not age recipients"), "{line}");
        assert!(
            !line
                .chars()
                .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
            "{line:?}"
        );
    }
    assert!(!o.replies().exists());
}
