//! Hostile reply bundles pushed to `POST /api/v1/desk/import` of the real
//! server: tar bombs, path escapes, links, lying manifests, replies that
//! are not age files for the reporter and the inspectorate.
//!
//! The desk is authenticated, but a reply bundle comes from a USB stick
//! that crossed an air gap: the server treats it as hostile input. Every
//! case must get its documented status and code, apply nothing (no reply,
//! no status change, no blob file left) and leave the server serving.

mod hostile;

use hostile::{request, run_cases, Case, Fixture, Reply, Want};
use sha2::{Digest, Sha256};
use wbs_e2e::ServerOptions;
use wbs_protocol::bundle::{ReplyBundle, ReplyFile, ReplyItem};
use wbs_protocol::message::{Document, REPLY_FORMAT};
use wbs_protocol::Status;

const MAX_IMPORT: usize = 1 << 20;

fn options() -> ServerOptions {
    ServerOptions {
        keys: 2,
        extra_config: format!(
            "[limits]\nmax_import_bytes = {MAX_IMPORT}\nstatus_per_second = 100000\n"
        ),
        ..Default::default()
    }
}

fn import(f: &Fixture, tar: &[u8]) -> Reply {
    f.send_desk(request(
        "POST",
        "/api/v1/desk/import",
        &[
            ("Authorization", &f.bearer()),
            ("Content-Type", "application/x-tar"),
        ],
        tar,
    ))
}

/// A reply sealed the right way: to the reporter and every inspectorate key.
fn reply_object(f: &Fixture) -> Vec<u8> {
    let mut r = vec![f.seed.reply_recipient()];
    r.extend(f.recipients.iter().cloned());
    wbs_protocol::message::Reply {
        format: REPLY_FORMAT.into(),
        id: None,
        body: "Terima kasih, laporan Anda sedang ditelaah.".into(),
        status: None,
        auth: None,
    }
    .seal(&r)
    .unwrap()
}

fn item(f: &Fixture, id: &str) -> ReplyItem {
    ReplyItem {
        id: id.into(),
        case_id: f.seed_case_id(),
        status: Some(Status::InReview),
        reply: None,
    }
}

/// A bundle written by the protocol crate from these items and files.
fn bundle(items: Vec<(ReplyItem, Option<Vec<u8>>)>) -> Vec<u8> {
    let mut b = ReplyBundle::default();
    for (i, file) in items {
        b.push(i, file);
    }
    b.write(Vec::new()).unwrap()
}

fn file_entry(id: &str, bytes: &[u8]) -> ReplyFile {
    ReplyFile {
        path: format!("replies/{id}.age"),
        size: bytes.len() as u64,
        sha256: wbs_protocol::hex(&Sha256::digest(bytes)),
    }
}

fn manifest(items: &[ReplyItem]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"format": "wbs-replies/1", "items": items})).unwrap()
}

/// A tar built entry by entry, header fields set by hand, so it can hold
/// what the `tar` crate's builder refuses to write.
struct RawTar(Vec<u8>);

impl RawTar {
    fn new() -> Self {
        RawTar(Vec::new())
    }
    fn entry(mut self, name: &[u8], kind: tar::EntryType, data: &[u8], link: &[u8]) -> Self {
        self.header(name, kind, data.len() as u64, link);
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }
    /// A header whose declared size need not match what follows.
    fn header(&mut self, name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name);
            old.linkname[..link.len()].copy_from_slice(link);
        }
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name.as_bytes(), tar::EntryType::Regular, data, b"")
    }
    fn finish(mut self) -> Vec<u8> {
        self.0.extend(std::iter::repeat_n(0u8, 1024));
        self.0
    }
}

/// A manifest listing one reply for the seed case, then `entry` as the
/// reply file's tar entry (name, kind, link target).
fn with_reply_entry(f: &Fixture, name: &[u8], kind: tar::EntryType, link: &[u8]) -> Vec<u8> {
    let reply = reply_object(f);
    let mut i = item(f, "r1");
    i.reply = Some(file_entry("r1", &reply));
    RawTar::new()
        .file("replies.json", &manifest(&[i]))
        .entry(name, kind, &reply, link)
        .finish()
}

fn cases() -> Vec<Case> {
    use Want::*;
    let invalid = Error(422, "invalid_bundle");
    vec![
        Case::new("bundle_not_a_tar", invalid, |f| {
            import(f, b"this is a letter, not a tar archive\n")
        })
        .mentioning("not a valid tar"),
        Case::new("bundle_empty_body", invalid, |f| import(f, b""))
            .mentioning("replies.json is missing"),
        Case::new("bundle_only_end_of_archive", invalid, |f| {
            import(f, &[0u8; 1024])
        })
        .mentioning("replies.json is missing"),
        Case::new("bundle_truncated", invalid, |f| {
            let r = reply_object(f);
            let b = bundle(vec![(item(f, "t1"), Some(r))]);
            import(f, &b[..b.len() / 2])
        })
        .mentioning("replies/t1.age"),
        Case::new("bundle_manifest_not_first", invalid, |f| {
            let reply = reply_object(f);
            let mut i = item(f, "m1");
            i.reply = Some(file_entry("m1", &reply));
            import(
                f,
                &RawTar::new()
                    .file("replies/m1.age", &reply)
                    .file("replies.json", &manifest(&[i]))
                    .finish(),
            )
        })
        .mentioning("first entry"),
        Case::new("bundle_manifest_missing", invalid, |f| {
            let reply = reply_object(f);
            import(f, &RawTar::new().file("replies/m1.age", &reply).finish())
        })
        .mentioning("first entry"),
        Case::new("bundle_manifest_unknown_format", invalid, |f| {
            let i = item(f, "u1");
            let m = serde_json::json!({"format": "wbs-replies/2", "items": [i]});
            import(
                f,
                &RawTar::new()
                    .file("replies.json", m.to_string().as_bytes())
                    .finish(),
            )
        })
        .mentioning("unsupported format"),
        Case::new("bundle_manifest_unknown_field", invalid, |f| {
            let i = item(f, "u2");
            let m = serde_json::json!({"format": "wbs-replies/1", "items": [i], "delete": "all"});
            import(
                f,
                &RawTar::new()
                    .file("replies.json", m.to_string().as_bytes())
                    .finish(),
            )
        })
        .mentioning("unknown field"),
        Case::new("bundle_manifest_not_json", invalid, |f| {
            import(
                f,
                &RawTar::new().file("replies.json", b"format=wbs").finish(),
            )
        })
        .mentioning("replies.json"),
        Case::new("bundle_item_status_unknown", invalid, |f| {
            let m = serde_json::json!({"format": "wbs-replies/1", "items": [
                {"id": "s1", "case_id": f.seed_case_id(), "status": "erased"}
            ]});
            import(
                f,
                &RawTar::new()
                    .file("replies.json", m.to_string().as_bytes())
                    .finish(),
            )
        })
        .mentioning("unknown variant"),
        Case::new("bundle_tar_bomb_by_declared_size", invalid, |f| {
            // A header claiming 1 TiB and no data: refused from the header.
            let reply = reply_object(f);
            let mut i = item(f, "b1");
            i.reply = Some(file_entry("b1", &reply));
            let mut t = RawTar::new().file("replies.json", &manifest(&[i]));
            t.header(b"replies/b1.age", tar::EntryType::Regular, 1 << 40, b"");
            import(f, &t.0)
        })
        .mentioning("larger than allowed"),
        Case::new("bundle_manifest_declared_1_tib", invalid, |f| {
            let mut t = RawTar::new();
            t.header(b"replies.json", tar::EntryType::Regular, 1 << 40, b"");
            import(f, &t.0)
        })
        .mentioning("larger than allowed"),
        Case::new("bundle_dotdot_path", invalid, |f| {
            import(
                f,
                &with_reply_entry(
                    f,
                    b"replies/../../../../tmp/evil.age",
                    tar::EntryType::Regular,
                    b"",
                ),
            )
        })
        .mentioning("unsafe path"),
        Case::new("bundle_absolute_path", invalid, |f| {
            import(
                f,
                &with_reply_entry(f, b"/etc/cron.d/evil", tar::EntryType::Regular, b""),
            )
        })
        .mentioning("unsafe path"),
        Case::new("bundle_backslash_path", invalid, |f| {
            import(
                f,
                &with_reply_entry(
                    f,
                    b"replies\\..\\..\\evil.age",
                    tar::EntryType::Regular,
                    b"",
                ),
            )
        })
        .mentioning("unsafe path"),
        Case::new("bundle_symlink", invalid, |f| {
            import(
                f,
                &with_reply_entry(
                    f,
                    b"replies/r1.age",
                    tar::EntryType::Symlink,
                    b"/etc/passwd",
                ),
            )
        })
        .mentioning("link"),
        Case::new("bundle_hard_link", invalid, |f| {
            import(
                f,
                &with_reply_entry(f, b"replies/r1.age", tar::EntryType::Link, b"replies.json"),
            )
        })
        .mentioning("link"),
        Case::new("bundle_fifo", invalid, |f| {
            import(
                f,
                &with_reply_entry(f, b"replies/r1.age", tar::EntryType::Fifo, b""),
            )
        })
        .mentioning("not a plain file"),
        Case::new("bundle_char_device", invalid, |f| {
            import(
                f,
                &with_reply_entry(f, b"replies/r1.age", tar::EntryType::Char, b""),
            )
        })
        .mentioning("not a plain file"),
        Case::new("bundle_gnu_long_name_escape", invalid, |f| {
            // A GNU long-name record renames the next entry to an escape.
            let reply = reply_object(f);
            let mut i = item(f, "r1");
            i.reply = Some(file_entry("r1", &reply));
            let t = RawTar::new()
                .file("replies.json", &manifest(&[i]))
                .entry(
                    b"././@LongLink",
                    tar::EntryType::GNULongName,
                    b"../../../../tmp/evil.age\0",
                    b"",
                )
                .file("replies/r1.age", &reply)
                .finish();
            import(f, &t)
        })
        .mentioning("unsafe path"),
        Case::new("bundle_pax_path_escape", invalid, |f| {
            let reply = reply_object(f);
            let mut i = item(f, "r1");
            i.reply = Some(file_entry("r1", &reply));
            let record = b"30 path=../../../tmp/evil.age\n";
            let t = RawTar::new()
                .file("replies.json", &manifest(&[i]))
                .entry(b"pax", tar::EntryType::XHeader, record, b"")
                .file("replies/r1.age", &reply)
                .finish();
            import(f, &t)
        })
        .mentioning("unsafe path"),
        Case::new("bundle_gnu_long_name_declared_1_tib", invalid, |f| {
            // The tar crate alone would read a long name of any size into
            // memory: refused from its header.
            let reply = reply_object(f);
            let mut i = item(f, "r1");
            i.reply = Some(file_entry("r1", &reply));
            let mut t = RawTar::new().file("replies.json", &manifest(&[i]));
            t.header(b"././@LongLink", tar::EntryType::GNULongName, 1 << 40, b"");
            t.0.extend(std::iter::repeat_n(b'a', 64 * 1024));
            import(f, &t.0)
        })
        .mentioning("GNU long name of 1099511627776 bytes"),
        Case::new("bundle_pax_header_declared_1_tib", invalid, |f| {
            let mut t = RawTar::new().file("replies.json", &manifest(&[item(f, "r1")]));
            t.header(b"pax", tar::EntryType::XHeader, 1 << 40, b"");
            t.0.extend(std::iter::repeat_n(b'a', 64 * 1024));
            import(f, &t.0)
        })
        .mentioning("PAX extended header of 1099511627776 bytes"),
        Case::new("bundle_pax_size_1_tib", invalid, |f| {
            // The header says the reply's size; PAX says 1 TiB.
            let reply = reply_object(f);
            let mut i = item(f, "r1");
            i.reply = Some(file_entry("r1", &reply));
            let record = b"22 size=1099511627776\n";
            let t = RawTar::new()
                .file("replies.json", &manifest(&[i]))
                .entry(b"pax", tar::EntryType::XHeader, record, b"")
                .file("replies/r1.age", &reply)
                .finish();
            import(f, &t)
        })
        .mentioning("larger than allowed"),
        Case::new("bundle_pax_size_smaller_than_header", invalid, |f| {
            // A reader believing PAX would read what follows the first 16
            // bytes as further entries.
            let reply = reply_object(f);
            let mut i = item(f, "r1");
            i.reply = Some(file_entry("r1", &reply));
            let record = b"11 size=16\n";
            let t = RawTar::new()
                .file("replies.json", &manifest(&[i]))
                .entry(b"pax", tar::EntryType::XHeader, record, b"")
                .file("replies/r1.age", &reply)
                .finish();
            import(f, &t)
        })
        .mentioning("is not the size in its header"),
        Case::new("bundle_unknown_case_id", invalid, |f| {
            let reply = reply_object(f);
            let mut i = item(f, "k1");
            i.case_id = "nosuchcase".into();
            import(f, &bundle(vec![(i, Some(reply))]))
        })
        .mentioning("unknown case"),
        Case::new("bundle_case_id_path_trick", invalid, |f| {
            let mut i = item(f, "k2");
            i.case_id = "../../etc".into();
            import(
                f,
                &RawTar::new().file("replies.json", &manifest(&[i])).finish(),
            )
        })
        .mentioning("bad case id"),
        Case::new("bundle_valid_item_then_unknown_case", invalid, |f| {
            // All or nothing: the good first item must not be applied.
            let reply = reply_object(f);
            let mut bad = item(f, "k4");
            bad.case_id = "nosuchcase".into();
            import(f, &bundle(vec![(item(f, "k3"), Some(reply)), (bad, None)]))
        })
        .mentioning("unknown case"),
        Case::new("bundle_hash_mismatch", invalid, |f| {
            let reply = reply_object(f);
            let mut i = item(f, "h1");
            i.reply = Some(file_entry("h1", &reply));
            let mut tampered = reply.clone();
            let n = tampered.len();
            tampered[n - 5] ^= 0x40;
            import(
                f,
                &RawTar::new()
                    .file("replies.json", &manifest(&[i]))
                    .file("replies/h1.age", &tampered)
                    .finish(),
            )
        })
        .mentioning("SHA-256"),
        Case::new("bundle_size_mismatch", invalid, |f| {
            let reply = reply_object(f);
            let mut i = item(f, "h2");
            let mut entry = file_entry("h2", &reply);
            entry.size -= 1;
            i.reply = Some(entry);
            import(
                f,
                &RawTar::new()
                    .file("replies.json", &manifest(&[i]))
                    .file("replies/h2.age", &reply)
                    .finish(),
            )
        })
        .mentioning("bytes"),
        Case::new("bundle_reply_not_age", invalid, |f| {
            let plain =
                b"{\"format\":\"wbs-reply/1\",\"body\":\"plaintext on the server\"}".to_vec();
            import(f, &bundle(vec![(item(f, "n1"), Some(plain))]))
        })
        .mentioning("not an age v1 file"),
        Case::new("bundle_reply_to_a_single_recipient", invalid, |f| {
            // One stanza: not the reporter and an inspectorate key. (Two
            // inspectorate keys without the reporter have as many stanzas
            // as the reporter and one key: the server cannot tell them
            // apart, PROTOCOL.md §5.)
            let r = wbs_protocol::message::Reply {
                format: REPLY_FORMAT.into(),
                id: None,
                body: "x".into(),
                status: None,
                auth: None,
            }
            .seal(&f.recipients[..1])
            .unwrap();
            import(f, &bundle(vec![(item(f, "n2"), Some(r))]))
        })
        .mentioning("1 recipients, 2 to 3 expected"),
        Case::new("bundle_reply_with_an_extra_recipient", invalid, |f| {
            let mut r = vec![f.seed.reply_recipient()];
            r.extend(f.recipients.iter().cloned());
            r.extend(hostile::strangers(1));
            let reply = wbs_protocol::message::Reply {
                format: REPLY_FORMAT.into(),
                id: None,
                body: "x".into(),
                status: None,
                auth: None,
            }
            .seal(&r)
            .unwrap();
            import(f, &bundle(vec![(item(f, "n3"), Some(reply))]))
        })
        .mentioning("4 recipients, 2 to 3 expected"),
        Case::new("bundle_reply_passphrase_encrypted", invalid, |f| {
            let mut o = b"age-encryption.org/v1\n-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\n".to_vec();
            o.extend_from_slice(b"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI\n--- ");
            o.extend_from_slice(b"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc\n");
            o.extend_from_slice(&[9u8; 32]);
            import(f, &bundle(vec![(item(f, "n4"), Some(o))]))
        })
        .mentioning("stanza"),
        Case::new("bundle_duplicate_item_ids", invalid, |f| {
            let i = item(f, "d1");
            import(
                f,
                &RawTar::new()
                    .file("replies.json", &manifest(&[i.clone(), i]))
                    .finish(),
            )
        })
        .mentioning("item id"),
        Case::new("bundle_duplicate_tar_entries", invalid, |f| {
            let reply = reply_object(f);
            let mut i = item(f, "d2");
            i.reply = Some(file_entry("d2", &reply));
            import(
                f,
                &RawTar::new()
                    .file("replies.json", &manifest(&[i]))
                    .file("replies/d2.age", &reply)
                    .file("replies/d2.age", &reply)
                    .finish(),
            )
        })
        .mentioning("twice"),
        Case::new("bundle_item_that_does_nothing", invalid, |f| {
            let mut i = item(f, "z1");
            i.status = None;
            import(
                f,
                &RawTar::new().file("replies.json", &manifest(&[i])).finish(),
            )
        })
        .mentioning("does nothing"),
        Case::new("bundle_item_id_not_an_id", invalid, |f| {
            let i = item(f, "Z/../1");
            import(
                f,
                &RawTar::new().file("replies.json", &manifest(&[i])).finish(),
            )
        })
        .mentioning("item id"),
        Case::new("bundle_reply_path_not_its_own", invalid, |f| {
            let reply = reply_object(f);
            let mut i = item(f, "p1");
            let mut e = file_entry("p1", &reply);
            e.path = "replies/other.age".into();
            i.reply = Some(e);
            import(
                f,
                &RawTar::new()
                    .file("replies.json", &manifest(&[i]))
                    .file("replies/other.age", &reply)
                    .finish(),
            )
        })
        .mentioning("bad reply entry"),
        Case::new("bundle_listed_reply_missing", invalid, |f| {
            let reply = reply_object(f);
            let mut i = item(f, "p2");
            i.reply = Some(file_entry("p2", &reply));
            import(
                f,
                &RawTar::new().file("replies.json", &manifest(&[i])).finish(),
            )
        })
        .mentioning("missing"),
        Case::new("bundle_unlisted_file", invalid, |f| {
            let reply = reply_object(f);
            import(
                f,
                &RawTar::new()
                    .file("replies.json", &manifest(&[item(f, "p3")]))
                    .file("replies/p9.age", &reply)
                    .finish(),
            )
        })
        .mentioning("unexpected entry"),
        Case::new("bundle_good_reply_then_bad_reply", invalid, |f| {
            // The first reply is checked and written to disk before the
            // second is refused: it must be removed again.
            let good = reply_object(f);
            import(
                f,
                &bundle(vec![
                    (item(f, "g1"), Some(good)),
                    (item(f, "g2"), Some(b"not age".to_vec())),
                ]),
            )
        })
        .mentioning("g2.age: not an age"),
        Case::new(
            "bundle_over_max_import_bytes",
            Error(413, "payload_too_large"),
            |f| {
                let mut t = RawTar::new().file("replies.json", &manifest(&[item(f, "o1")]));
                t = t.file("padding.bin", &vec![0u8; MAX_IMPORT + 1]);
                import(f, &t.finish())
            },
        ),
        Case::new(
            "bundle_over_max_import_bytes_chunked",
            Error(413, "payload_too_large"),
            |f| {
                let t = RawTar::new()
                    .file("replies.json", &manifest(&[item(f, "o2")]))
                    .file("padding.bin", &vec![0u8; MAX_IMPORT + 1])
                    .finish();
                f.send_desk(request(
                    "POST",
                    "/api/v1/desk/import",
                    &[
                        ("Authorization", &f.bearer()),
                        ("Transfer-Encoding", "chunked"),
                    ],
                    &hostile::chunked(&t, 64 * 1024),
                ))
            },
        ),
    ]
}

#[test]
fn hostile_reply_bundles_are_refused_and_apply_nothing() {
    let fixture = Fixture::start(options());
    let n = run_cases(&fixture, cases());
    eprintln!("{n} hostile reply bundle cases passed");
}

/// The control: a well-formed bundle of the same shape is applied once,
/// and pushing it again changes nothing.
#[test]
fn a_valid_reply_bundle_is_applied_once() {
    let f = Fixture::start(options());
    let reply = reply_object(&f);
    let b = bundle(vec![(item(&f, "ok1"), Some(reply))]);
    let r = import(&f, &b);
    assert_eq!(r.status, 200, "{}", r.summary());
    assert_eq!(r.json()["applied"], 1);
    let status = f.seed_status().json();
    assert_eq!(status["status"], "in_review");
    assert_eq!(status["replies"].as_array().unwrap().len(), 1);
    let before = f.snapshot();
    let r = import(&f, &b);
    assert_eq!(r.json()["skipped"], 1, "{}", r.summary());
    f.assert_unchanged(&before).unwrap();
}
