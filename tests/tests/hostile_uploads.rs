//! Hostile uploads against the real server process: broken multipart
//! bodies, bad `meta` documents, objects that are not WBS age files, and
//! bodies over the size limits, on submissions and follow-ups.
//!
//! Each case must get its documented status and JSON error code, leave the
//! server serving, and leave storage exactly as it was: in particular a
//! valid report followed by a refused attachment must not leave the report
//! behind. The shared machinery is in `hostile/mod.rs`.

mod hostile;

use base64::Engine;
use hostile::{
    attachment_object, chunked, followup_meta, followup_object, multipart_type, post_multipart,
    report_object, request, run_cases, strangers, submission_meta, Case, Fixture, Multipart, Reply,
    Want, BOUNDARY,
};
use wbs_e2e::ServerOptions;
use wbs_protocol::ReceiptCode;

const MAX_OBJECT: usize = 200_000;
const MAX_REQUEST: usize = 1_000_000;
const MAX_ATTACHMENTS: usize = 8;

fn options() -> ServerOptions {
    ServerOptions {
        keys: 2,
        extra_config: format!(
            "[limits]\nmax_object_bytes = {MAX_OBJECT}\nmax_request_bytes = {MAX_REQUEST}\n\
             max_attachments = {MAX_ATTACHMENTS}\nstatus_per_second = 100000\n\
             submissions_per_minute = 100000\nfollowups_per_minute = 100000\n"
        ),
        ..Default::default()
    }
}

const SUBMISSIONS: &str = "/api/v1/submissions";
const FOLLOWUPS: &str = "/api/v1/followups";

fn submit(f: &Fixture, body: &[u8]) -> Reply {
    f.send(post_multipart(SUBMISSIONS, body))
}

/// A fresh receipt code with a valid meta part and report for it.
fn fresh(f: &Fixture) -> (ReceiptCode, Vec<u8>, Vec<u8>) {
    let code = ReceiptCode::generate();
    let meta = submission_meta(&code);
    let report = report_object(&f.recipients, &code, "hostile", vec![]);
    (code, meta, report)
}

/// A submission whose report part is `object`.
fn submit_report(f: &Fixture, object: &[u8]) -> Reply {
    let (_, meta, _) = fresh(f);
    submit(
        f,
        &Multipart::new()
            .part("meta", &meta)
            .part("report", object)
            .finish(),
    )
}

/// A submission whose meta part is `meta`, with a valid report.
fn submit_meta(f: &Fixture, meta: &[u8]) -> Reply {
    let (_, _, report) = fresh(f);
    submit(
        f,
        &Multipart::new()
            .part("meta", meta)
            .part("report", &report)
            .finish(),
    )
}

fn meta_with(lookup: &str, recipient: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"lookup": lookup, "reply_recipient": recipient}))
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// An age-shaped object built by hand: the version line, the given stanza
/// lines (each `(arguments, body bytes)`), a MAC line and a 32-byte payload.
/// It is structurally what age writes, but nobody can decrypt it.
fn handmade(stanzas: &[(&str, Vec<u8>)], mac_len: usize) -> Vec<u8> {
    let mut out = b"age-encryption.org/v1\n".to_vec();
    for (args, body) in stanzas {
        out.extend_from_slice(format!("-> {args}\n").as_bytes());
        let text = b64(body);
        let mut lines: Vec<&str> = Vec::new();
        let mut rest = text.as_str();
        while rest.len() >= 64 {
            lines.push(&rest[..64]);
            rest = &rest[64..];
        }
        lines.push(rest);
        for l in lines {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
        }
    }
    out.extend_from_slice(format!("--- {}\n", b64(&vec![7u8; mac_len])).as_bytes());
    out.extend_from_slice(&[9u8; 32]);
    out
}

fn x25519_stanza() -> (&'static str, Vec<u8>) {
    // The argument is an ephemeral share; 32 bytes of base64 as age writes it.
    (
        "X25519 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        vec![1u8; 32],
    )
}

fn multipart_cases() -> Vec<Case> {
    use Want::*;
    let missing = Error(400, "missing_part");
    let malformed = Error(400, "malformed_multipart");
    vec![
        Case::new(
            "multipart_without_boundary",
            Error(415, "unsupported_media_type"),
            |f| {
                let (_, meta, report) = fresh(f);
                let body = Multipart::new()
                    .part("meta", &meta)
                    .part("report", &report)
                    .finish();
                f.send(request(
                    "POST",
                    SUBMISSIONS,
                    &[("Content-Type", "multipart/form-data")],
                    &body,
                ))
            },
        ),
        Case::new("multipart_boundary_mismatch", malformed, |f| {
            let (_, meta, report) = fresh(f);
            let body = Multipart::new()
                .part("meta", &meta)
                .part("report", &report)
                .finish();
            f.send(request(
                "POST",
                SUBMISSIONS,
                &[(
                    "Content-Type",
                    "multipart/form-data; boundary=somethingelse",
                )],
                &body,
            ))
        })
        .mentioning("incomplete multipart stream"),
        Case::new(
            "multipart_client_leaves_before_the_end",
            Transport(&[400]),
            |f| {
                let (_, meta, report) = fresh(f);
                let body = Multipart::new()
                    .part("meta", &meta)
                    .part("report", &report[..report.len() / 2])
                    .unfinished();
                let declared = (body.len() + 5000).to_string();
                hostile::exchange_opts(
                    &f.addr,
                    request(
                        "POST",
                        SUBMISSIONS,
                        &[
                            ("Content-Type", &multipart_type()),
                            ("Content-Length", &declared),
                        ],
                        &body,
                    ),
                    true,
                )
            },
        ),
        Case::new("multipart_truncated_inside_report", malformed, |f| {
            let (_, meta, report) = fresh(f);
            let body = Multipart::new()
                .part("meta", &meta)
                .raw(
                    format!(
                        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"report\"\r\n\r\n"
                    )
                    .as_bytes(),
                )
                .raw(&report[..report.len() / 2])
                .unfinished();
            submit(f, &body)
        })
        .mentioning("incomplete data"),
        Case::new("multipart_without_closing_boundary", malformed, |f| {
            let (_, meta, report) = fresh(f);
            let body = Multipart::new()
                .part("meta", &meta)
                .part("report", &report)
                .unfinished();
            submit(f, &body)
        })
        .mentioning("incomplete data"),
        Case::new("multipart_empty_body", malformed, |f| submit(f, b"")),
        Case::new("multipart_only_closing_boundary", missing, |f| {
            submit(f, &Multipart::new().finish())
        }),
        Case::new("multipart_missing_meta", missing, |f| {
            let (_, _, report) = fresh(f);
            submit(f, &Multipart::new().part("report", &report).finish())
        })
        .mentioning("must be meta"),
        Case::new("multipart_meta_after_report", missing, |f| {
            let (_, meta, report) = fresh(f);
            submit(
                f,
                &Multipart::new()
                    .part("report", &report)
                    .part("meta", &meta)
                    .finish(),
            )
        })
        .mentioning("must be meta"),
        Case::new("multipart_attachment_before_report", missing, |f| {
            let (_, meta, report) = fresh(f);
            let (att, _) = attachment_object(&f.recipients, "a", b"a");
            submit(
                f,
                &Multipart::new()
                    .part("meta", &meta)
                    .part("attachment", &att)
                    .part("report", &report)
                    .finish(),
            )
        })
        .mentioning("must be report"),
        Case::new(
            "multipart_unknown_part_name",
            Error(400, "unexpected_part"),
            |f| {
                let (_, meta, report) = fresh(f);
                let (att, _) = attachment_object(&f.recipients, "a", b"a");
                submit(
                    f,
                    &Multipart::new()
                        .part("meta", &meta)
                        .part("report", &report)
                        .part("evidence", &att)
                        .finish(),
                )
            },
        ),
        Case::new(
            "multipart_duplicate_report",
            Error(400, "unexpected_part"),
            |f| {
                let (_, meta, report) = fresh(f);
                submit(
                    f,
                    &Multipart::new()
                        .part("meta", &meta)
                        .part("report", &report)
                        .part("report", &report)
                        .finish(),
                )
            },
        ),
        Case::new("multipart_duplicate_meta", missing, |f| {
            let (_, meta, report) = fresh(f);
            submit(
                f,
                &Multipart::new()
                    .part("meta", &meta)
                    .part("meta", &meta)
                    .part("report", &report)
                    .finish(),
            )
        })
        .mentioning("must be report"),
        Case::new("multipart_meta_only", missing, |f| {
            let (_, meta, _) = fresh(f);
            submit(f, &Multipart::new().part("meta", &meta).finish())
        })
        .mentioning("report part is missing"),
        Case::new("multipart_part_without_name", missing, |f| {
            let (_, meta, report) = fresh(f);
            let body = Multipart::new()
                .raw(format!("--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\n").as_bytes())
                .raw(&meta)
                .raw(b"\r\n")
                .part("report", &report)
                .finish();
            submit(f, &body)
        })
        .mentioning("must be meta"),
    ]
}

fn meta_cases() -> Vec<Case> {
    use Want::*;
    let malformed = Error(400, "malformed_json");
    let shape = Error(422, "invalid_json");
    let bad_lookup = Error(422, "invalid_lookup");
    let bad_recipient = Error(422, "invalid_recipient");
    let recipient = || ReceiptCode::generate().reply_recipient().to_string();
    let lookup = || ReceiptCode::generate().lookup_key().to_base64url();
    vec![
        Case::new(
            "meta_over_16_kib",
            Error(413, "payload_too_large"),
            move |f| {
                let pad = " ".repeat(17 * 1024);
                let meta = format!(
                    "{{\"lookup\":\"{}\",{pad}\"reply_recipient\":\"{}\"}}",
                    lookup(),
                    recipient()
                );
                submit_meta(f, meta.as_bytes())
            },
        )
        .mentioning("meta part is too large"),
        Case::new("meta_not_json", malformed, |f| {
            submit_meta(f, b"lookup=abc&reply_recipient=age1")
        }),
        Case::new("meta_invalid_utf8", malformed, move |f| {
            let mut m =
                format!("{{\"lookup\":\"{}\",\"reply_recipient\":\"", lookup()).into_bytes();
            m.extend_from_slice(b"\xc3\x28\xa0\xa1\"}");
            submit_meta(f, &m)
        }),
        Case::new("meta_unknown_field", shape, move |f| {
            let m = serde_json::json!({
                "lookup": lookup(), "reply_recipient": recipient(), "user_agent": "Mozilla"
            });
            submit_meta(f, m.to_string().as_bytes())
        })
        .mentioning("unknown field"),
        Case::new("meta_wrong_type", shape, move |f| {
            let m = serde_json::json!({"lookup": 42, "reply_recipient": recipient()});
            submit_meta(f, m.to_string().as_bytes())
        })
        .mentioning("invalid type"),
        Case::new("meta_missing_reply_recipient", shape, move |f| {
            let m = serde_json::json!({"lookup": lookup()});
            submit_meta(f, m.to_string().as_bytes())
        })
        .mentioning("missing field"),
        Case::new("meta_null", shape, |f| submit_meta(f, b"null")),
        Case::new("meta_array", shape, |f| submit_meta(f, b"[1, 2, 3]")),
        Case::new("meta_deeply_nested", shape, |f| {
            let depth = 8000; // 16 KB: just under the meta part's limit
            let mut m = "[".repeat(depth);
            m.push_str(&"]".repeat(depth));
            submit_meta(f, m.as_bytes())
        }),
        Case::new("meta_huge_number", malformed, move |f| {
            let m = format!(
                "{{\"lookup\":\"{}\",\"reply_recipient\":\"{}\",\"pow\":{{\"challenge\":\"x\",\"nonce\":1e99999}}}}",
                lookup(),
                recipient()
            );
            submit_meta(f, m.as_bytes())
        }),
        Case::new("meta_duplicated_keys", shape, move |f| {
            // A second "lookup" must not silently win over the first.
            let m = format!(
                "{{\"lookup\":\"{}\",\"lookup\":\"{}\",\"reply_recipient\":\"{}\"}}",
                lookup(),
                lookup(),
                recipient()
            );
            submit_meta(f, m.as_bytes())
        })
        .mentioning("duplicate field"),
        Case::new("meta_trailing_garbage", malformed, |f| {
            let (code, _, _) = fresh(f);
            let mut m = submission_meta(&code);
            m.extend_from_slice(b"}{\"more\":1}");
            submit_meta(f, &m)
        }),
        Case::new("lookup_not_base64url", bad_lookup, move |f| {
            submit_meta(f, &meta_with("not*base64url*at*all!", &recipient()))
        }),
        Case::new("lookup_wrong_length", bad_lookup, move |f| {
            let short = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([5u8; 16]);
            submit_meta(f, &meta_with(&short, &recipient()))
        }),
        Case::new("lookup_with_padding", bad_lookup, move |f| {
            let padded = base64::engine::general_purpose::URL_SAFE.encode([5u8; 32]);
            submit_meta(f, &meta_with(&padded, &recipient()))
        }),
        Case::new("lookup_standard_base64_alphabet", bad_lookup, move |f| {
            // 0xfb bytes encode to '+' and '/' in standard base64.
            let std = base64::engine::general_purpose::STANDARD_NO_PAD.encode([0xfbu8; 32]);
            assert!(std.contains('+') || std.contains('/'));
            submit_meta(f, &meta_with(&std, &recipient()))
        }),
        Case::new("lookup_empty", bad_lookup, move |f| {
            submit_meta(f, &meta_with("", &recipient()))
        }),
        Case::new("reply_recipient_garbage", bad_recipient, move |f| {
            submit_meta(f, &meta_with(&lookup(), "age1thisisnotakey"))
        }),
        Case::new("reply_recipient_is_a_secret_key", bad_recipient, move |f| {
            use secrecy::ExposeSecret;
            let secret = age::x25519::Identity::generate()
                .to_string()
                .expose_secret()
                .to_string();
            submit_meta(f, &meta_with(&lookup(), &secret))
        }),
        Case::new("reply_recipient_ssh_key", bad_recipient, move |f| {
            submit_meta(
                f,
                &meta_with(
                    &lookup(),
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
                ),
            )
        }),
        Case::new("reply_recipient_empty", bad_recipient, move |f| {
            submit_meta(f, &meta_with(&lookup(), ""))
        }),
        Case::new("duplicate_lookup", Error(409, "lookup_exists"), |f| {
            // Somebody submitting under a receipt code that is already used.
            let seed = f.seed.clone();
            let report = report_object(&f.recipients, &seed, "again", vec![]);
            submit(
                f,
                &Multipart::new()
                    .part("meta", &submission_meta(&seed))
                    .part("report", &report)
                    .finish(),
            )
        }),
    ]
}

fn object_cases() -> Vec<Case> {
    use Want::*;
    let invalid = Error(422, "invalid_object");
    vec![
        Case::new("object_not_age", invalid, |f| {
            submit_report(f, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
        })
        .mentioning("not an age v1 file"),
        Case::new("object_empty", invalid, |f| submit_report(f, b""))
            .mentioning("truncated header"),
        Case::new("object_armored_age", invalid, |f| {
            let (_, _, report) = fresh(f);
            let armored = format!(
                "-----BEGIN AGE ENCRYPTED FILE-----\n{}\n-----END AGE ENCRYPTED FILE-----\n",
                base64::engine::general_purpose::STANDARD.encode(&report)
            );
            submit_report(f, armored.as_bytes())
        })
        .mentioning("not an age v1 file"),
        Case::new("object_age_v2_version_line", invalid, |f| {
            let (_, _, report) = fresh(f);
            let mut v2 = b"age-encryption.org/v2\n".to_vec();
            v2.extend_from_slice(&report[22..]);
            submit_report(f, &v2)
        })
        .mentioning("not an age v1 file"),
        Case::new("object_crlf_line_endings", invalid, |f| {
            let (_, _, report) = fresh(f);
            let mut crlf = b"age-encryption.org/v1\r\n".to_vec();
            crlf.extend_from_slice(&report[22..]);
            submit_report(f, &crlf)
        })
        .mentioning("not an age v1 file"),
        Case::new("object_truncated_in_header", invalid, |f| {
            let (_, _, report) = fresh(f);
            submit_report(f, &report[..60])
        })
        .mentioning("truncated header"),
        Case::new("object_truncated_in_nonce", invalid, |f| {
            let (_, _, report) = fresh(f);
            let h = wbs_protocol::header::check_object(&report, 2).unwrap();
            submit_report(f, &report[..h + 10])
        })
        .mentioning("payload is truncated"),
        Case::new("object_truncated_in_second_chunk", invalid, |f| {
            let (_, meta, _) = fresh(f);
            let big = wbs_protocol::envelope::encrypt_document(&f.recipients, &vec![b'x'; 100_000])
                .unwrap();
            let h = wbs_protocol::header::check_object(&big, 2).unwrap();
            submit(
                f,
                &Multipart::new()
                    .part("meta", &meta)
                    .part("report", &big[..h + 16 + 65_552 + 5])
                    .finish(),
            )
        })
        .mentioning("payload is truncated"),
        Case::new("object_too_many_recipients", invalid, |f| {
            let mut r = f.recipients.clone();
            r.extend(strangers(1));
            let (code, _, _) = fresh(f);
            submit_report(f, &report_object(&r, &code, "x", vec![]))
        })
        .mentioning("3 recipients, 2 expected"),
        Case::new("object_too_few_recipients", invalid, |f| {
            let (code, _, _) = fresh(f);
            submit_report(f, &report_object(&f.recipients[..1], &code, "x", vec![]))
        })
        .mentioning("1 recipients, 2 expected"),
        Case::new("object_scrypt_stanza", invalid, |f| {
            submit_report(
                f,
                &handmade(&[("scrypt c2FsdHNhbHRzYWx0c2FsdA 18", vec![2u8; 32])], 32),
            )
        })
        .mentioning("does not accept"),
        Case::new("object_x25519_plus_scrypt", invalid, |f| {
            submit_report(
                f,
                &handmade(
                    &[
                        x25519_stanza(),
                        x25519_stanza(),
                        ("scrypt c2FsdHNhbHRzYWx0c2FsdA 18", vec![2u8; 32]),
                    ],
                    32,
                ),
            )
        })
        .mentioning("does not accept"),
        Case::new("object_plugin_stanza", invalid, |f| {
            submit_report(
                f,
                &handmade(
                    &[
                        x25519_stanza(),
                        x25519_stanza(),
                        ("piv-p256 AAAA AAAA", vec![3u8; 32]),
                    ],
                    32,
                ),
            )
        })
        .mentioning("does not accept"),
        Case::new("object_ssh_stanza", invalid, |f| {
            submit_report(
                f,
                &handmade(
                    &[x25519_stanza(), ("ssh-ed25519 AAAAAA AAAA", vec![3u8; 32])],
                    32,
                ),
            )
        })
        .mentioning("does not accept"),
        Case::new("object_two_grease_stanzas", invalid, |f| {
            submit_report(
                f,
                &handmade(
                    &[
                        ("a-grease x", vec![]),
                        x25519_stanza(),
                        x25519_stanza(),
                        ("b-grease y", vec![]),
                    ],
                    32,
                ),
            )
        })
        .mentioning("does not accept"),
        Case::new("object_header_over_16_kib", invalid, |f| {
            submit_report(
                f,
                &handmade(
                    &[
                        x25519_stanza(),
                        x25519_stanza(),
                        ("big-grease", vec![0u8; 20 * 1024]),
                    ],
                    32,
                ),
            )
        })
        .mentioning("too large"),
        Case::new("object_40_x25519_stanzas", invalid, |f| {
            let stanzas: Vec<_> = (0..40).map(|_| x25519_stanza()).collect();
            submit_report(f, &handmade(&stanzas, 32))
        })
        .mentioning("too large"),
        Case::new("object_short_mac", invalid, |f| {
            submit_report(f, &handmade(&[x25519_stanza(), x25519_stanza()], 16))
        })
        .mentioning("bad header MAC"),
        Case::new("object_x25519_share_too_short", invalid, |f| {
            submit_report(
                f,
                &handmade(
                    &[
                        x25519_stanza(),
                        (
                            "X25519 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",
                            vec![1u8; 32],
                        ),
                    ],
                    32,
                ),
            )
        })
        .mentioning("bad X25519 stanza"),
        Case::new("object_x25519_body_too_long", invalid, |f| {
            submit_report(
                f,
                &handmade(
                    &[
                        x25519_stanza(),
                        (
                            "X25519 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                            vec![1u8; 48],
                        ),
                    ],
                    32,
                ),
            )
        })
        .mentioning("bad X25519 stanza body"),
        Case::new("object_no_mac_line", invalid, |f| {
            let mut o = b"age-encryption.org/v1\n".to_vec();
            for (args, body) in [x25519_stanza(), x25519_stanza()] {
                o.extend_from_slice(format!("-> {args}\n{}\n", b64(&body)).as_bytes());
            }
            o.extend_from_slice(&[0xffu8; 200]);
            submit_report(f, &o)
        })
        .mentioning("truncated header"),
        Case::new("object_header_without_payload", invalid, |f| {
            let mut o = handmade(&[x25519_stanza(), x25519_stanza()], 32);
            o.truncate(o.len() - 32);
            submit_report(f, &o)
        })
        .mentioning("payload is truncated"),
        Case::new("attachment_not_age_after_valid_report", invalid, |f| {
            // The report is valid and already written to disk when the
            // attachment is refused: it must be removed again.
            let (_, meta, report) = fresh(f);
            submit(
                f,
                &Multipart::new()
                    .part("meta", &meta)
                    .part("report", &report)
                    .part("attachment", b"PK\x03\x04 a zip file")
                    .finish(),
            )
        })
        .mentioning("attachment 1: not an age"),
        Case::new("third_attachment_cut_in_its_nonce", invalid, |f| {
            // Cut where the payload length gives it away. (A cut inside a
            // chunk leaves a plausible length: only decryption notices;
            // see docs/THREAT_MODEL.md.)
            let (_, meta, report) = fresh(f);
            let (a, _) = attachment_object(&f.recipients, "a", &[1u8; 70_000]);
            let h = wbs_protocol::header::check_object(&a, 2).unwrap();
            submit(
                f,
                &Multipart::new()
                    .part("meta", &meta)
                    .part("report", &report)
                    .part("attachment", &a)
                    .part("attachment", &a)
                    .part("attachment", &a[..h + 10])
                    .finish(),
            )
        })
        .mentioning("attachment 3: age payload"),
    ]
}

fn size_cases() -> Vec<Case> {
    use Want::*;
    let too_large = Error(413, "payload_too_large");
    /// A report plus `n` attachments of `size` bytes each.
    fn many(f: &Fixture, n: usize, size: usize) -> Vec<u8> {
        let (_, meta, report) = fresh(f);
        let (a, _) = attachment_object(&f.recipients, "a", &vec![3u8; size]);
        let mut m = Multipart::new().part("meta", &meta).part("report", &report);
        for _ in 0..n {
            m = m.part("attachment", &a);
        }
        m.finish()
    }
    vec![
        Case::new("report_over_max_object_bytes", too_large, |f| {
            let big = wbs_protocol::envelope::encrypt_document(
                &f.recipients,
                &vec![b'x'; MAX_OBJECT + 10_000],
            )
            .unwrap();
            submit_report(f, &big)
        })
        .mentioning("report is larger"),
        Case::new("attachment_over_max_object_bytes", too_large, |f| {
            let (_, meta, report) = fresh(f);
            let (a, _) = attachment_object(&f.recipients, "a", &vec![1u8; MAX_OBJECT + 1]);
            submit(
                f,
                &Multipart::new()
                    .part("meta", &meta)
                    .part("report", &report)
                    .part("attachment", &a)
                    .finish(),
            )
        })
        .mentioning("attachment 1 is larger"),
        Case::new("request_over_max_request_bytes", too_large, |f| {
            // Each object is under its limit; together they are not.
            let body = many(f, 6, 190_000);
            assert!(body.len() > MAX_REQUEST);
            submit(f, &body)
        }),
        Case::new(
            "request_over_max_request_bytes_chunked_without_length",
            too_large,
            |f| {
                let body = many(f, 6, 190_000);
                f.send(request(
                    "POST",
                    SUBMISSIONS,
                    &[
                        ("Content-Type", &multipart_type()),
                        ("Transfer-Encoding", "chunked"),
                    ],
                    &chunked(&body, 32 * 1024),
                ))
            },
        ),
        Case::new("request_declares_a_length_over_the_limit", too_large, |f| {
            // Told at once, before uploading anything: the body sent is
            // a small valid submission that would otherwise be stored.
            let (_, meta, report) = fresh(f);
            let body = Multipart::new()
                .part("meta", &meta)
                .part("report", &report)
                .finish();
            f.send(request(
                "POST",
                SUBMISSIONS,
                &[
                    ("Content-Type", &multipart_type()),
                    ("Content-Length", "10000000000"),
                ],
                &body,
            ))
        }),
        Case::new("too_many_attachments", too_large, |f| {
            submit(f, &many(f, MAX_ATTACHMENTS + 1, 10))
        })
        .mentioning("at most 8 attachments"),
        Case::new(
            "submission_as_json",
            Error(415, "unsupported_media_type"),
            |f| {
                let (code, _, _) = fresh(f);
                f.send(request(
                    "POST",
                    SUBMISSIONS,
                    &[("Content-Type", "application/json")],
                    &submission_meta(&code),
                ))
            },
        ),
        Case::new(
            "submission_without_content_type",
            Error(415, "unsupported_media_type"),
            |f| {
                let (_, meta, report) = fresh(f);
                let body = Multipart::new()
                    .part("meta", &meta)
                    .part("report", &report)
                    .finish();
                f.send(request("POST", SUBMISSIONS, &[], &body))
            },
        ),
        Case::new(
            "submission_as_urlencoded_form",
            Error(415, "unsupported_media_type"),
            |f| {
                f.send(request(
                    "POST",
                    SUBMISSIONS,
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    b"meta=x&report=y",
                ))
            },
        ),
    ]
}

fn followup_cases() -> Vec<Case> {
    use Want::*;
    fn follow(f: &Fixture, body: &[u8]) -> Reply {
        f.send(post_multipart(FOLLOWUPS, body))
    }
    vec![
        Case::new("followup_unknown_lookup", Error(404, "not_found"), |f| {
            let stranger = ReceiptCode::generate();
            follow(
                f,
                &Multipart::new()
                    .part("meta", &followup_meta(&stranger))
                    .part("message", &followup_object(&f.recipients, "x"))
                    .finish(),
            )
        }),
        Case::new("followup_malformed_lookup", Error(404, "not_found"), |f| {
            follow(
                f,
                &Multipart::new()
                    .part("meta", br#"{"lookup":"%%%"}"#)
                    .part("message", &followup_object(&f.recipients, "x"))
                    .finish(),
            )
        }),
        Case::new(
            "followup_report_part_instead_of_message",
            Error(400, "missing_part"),
            |f| {
                follow(
                    f,
                    &Multipart::new()
                        .part("meta", &followup_meta(&f.seed))
                        .part("report", &followup_object(&f.recipients, "x"))
                        .finish(),
                )
            },
        )
        .mentioning("must be message"),
        Case::new(
            "followup_without_message",
            Error(400, "missing_part"),
            |f| {
                follow(
                    f,
                    &Multipart::new()
                        .part("meta", &followup_meta(&f.seed))
                        .finish(),
                )
            },
        )
        .mentioning("message part is missing"),
        Case::new(
            "followup_meta_with_submission_fields",
            Error(422, "invalid_json"),
            |f| {
                follow(
                    f,
                    &Multipart::new()
                        .part("meta", &submission_meta(&f.seed))
                        .part("message", &followup_object(&f.recipients, "x"))
                        .finish(),
                )
            },
        ),
        Case::new(
            "followup_message_not_age",
            Error(422, "invalid_object"),
            |f| {
                follow(
                    f,
                    &Multipart::new()
                        .part("meta", &followup_meta(&f.seed))
                        .part("message", b"{\"body\": \"plaintext, oops\"}")
                        .finish(),
                )
            },
        )
        .mentioning("message: not an age"),
        Case::new(
            "followup_message_wrong_recipient_count",
            Error(422, "invalid_object"),
            |f| {
                let mut r = f.recipients.clone();
                r.extend(strangers(2));
                follow(
                    f,
                    &Multipart::new()
                        .part("meta", &followup_meta(&f.seed))
                        .part("message", &followup_object(&r, "x"))
                        .finish(),
                )
            },
        )
        .mentioning("4 recipients, 2 expected"),
        Case::new(
            "followup_attachment_over_max_object_bytes",
            Error(413, "payload_too_large"),
            |f| {
                let (a, _) = attachment_object(&f.recipients, "a", &vec![1u8; MAX_OBJECT + 1]);
                follow(
                    f,
                    &Multipart::new()
                        .part("meta", &followup_meta(&f.seed))
                        .part("message", &followup_object(&f.recipients, "x"))
                        .part("attachment", &a)
                        .finish(),
                )
            },
        )
        .mentioning("attachment 1 is larger"),
        Case::new(
            "followup_as_json",
            Error(415, "unsupported_media_type"),
            |f| {
                f.send(request(
                    "POST",
                    FOLLOWUPS,
                    &[("Content-Type", "application/json")],
                    &followup_meta(&f.seed),
                ))
            },
        ),
    ]
}

#[test]
fn hostile_uploads_are_refused_and_store_nothing() {
    let fixture = Fixture::start(options());
    let mut cases = multipart_cases();
    cases.extend(meta_cases());
    cases.extend(object_cases());
    cases.extend(size_cases());
    cases.extend(followup_cases());
    let n = run_cases(&fixture, cases);
    eprintln!("{n} hostile upload cases passed");
}

/// The control: at the limits, done right, the same server accepts. A
/// harness that built broken requests would otherwise pass every case.
#[test]
fn uploads_at_the_limits_are_accepted() {
    let f = Fixture::start(options());
    let code = ReceiptCode::generate();
    let (a, meta_a) = attachment_object(&f.recipients, "a", &vec![3u8; 100_000]);
    let report = report_object(
        &f.recipients,
        &code,
        "limits",
        vec![meta_a; MAX_ATTACHMENTS],
    );
    let mut m = Multipart::new()
        .part("meta", &submission_meta(&code))
        .part("report", &report);
    for _ in 0..MAX_ATTACHMENTS {
        m = m.part("attachment", &a);
    }
    let body = m.finish();
    assert!(body.len() < MAX_REQUEST);
    let r = f.send(request(
        "POST",
        SUBMISSIONS,
        &[
            ("Content-Type", &multipart_type()),
            ("Transfer-Encoding", "chunked"),
        ],
        &chunked(&body, 10_000),
    ));
    assert_eq!(r.status, 201, "{}", r.summary());
    // A follow-up with an attachment, and the handmade object shape the
    // refusals above vary: accepted when it is right.
    let r = f.send(post_multipart(
        FOLLOWUPS,
        &Multipart::new()
            .part("meta", &followup_meta(&code))
            .part(
                "message",
                &handmade(&[x25519_stanza(), x25519_stanza()], 32),
            )
            .part("attachment", &a)
            .finish(),
    ));
    assert_eq!(r.status, 201, "{}", r.summary());
    let status = f.send(hostile::post_json(
        "/api/v1/status",
        &hostile::status_body(&code),
    ));
    assert_eq!(status.json()["followups"], 1);
}

/// With the default limits (2 GiB per request), the multipart parser would
/// buffer a part header or a preamble of any size: the body guard cuts
/// them off at 1 MiB (`wbs_server::guard`), while megabytes of real part
/// data still pass.
#[test]
fn oversized_part_headers_and_preambles_are_cut_off() {
    let f = Fixture::start(ServerOptions {
        keys: 2,
        extra_config: "[limits]\nstatus_per_second = 100000\n".into(),
        ..Default::default()
    });
    use Want::*;
    let cases = vec![
        Case::new(
            "multipart_part_header_of_3_mib",
            Error(400, "malformed_multipart"),
            |f| {
                let (_, meta, report) = fresh(f);
                let body = Multipart::new()
                    .raw(
                        format!(
                            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"meta\"\r\nX-Filler: {}\r\n\r\n",
                            "f".repeat(3 << 20)
                        )
                        .as_bytes(),
                    )
                    .raw(&meta)
                    .raw(b"\r\n")
                    .part("report", &report)
                    .finish();
                submit(f, &body)
            },
        )
        .mentioning("part header or preamble"),
        Case::new(
            "multipart_preamble_of_3_mib",
            Error(400, "malformed_multipart"),
            |f| {
                let (_, meta, report) = fresh(f);
                let body = Multipart::new()
                    .raw(&vec![b'p'; 3 << 20])
                    .raw(b"\r\n")
                    .part("meta", &meta)
                    .part("report", &report)
                    .finish();
                submit(f, &body)
            },
        )
        .mentioning("part header or preamble"),
    ];
    run_cases(&f, cases);
    // Real data of several megabytes is not mistaken for either.
    let code = ReceiptCode::generate();
    let (a, meta_a) = attachment_object(&f.recipients, "big.bin", &vec![7u8; 5 << 20]);
    let report = report_object(&f.recipients, &code, "big", vec![meta_a]);
    let r = submit(
        &f,
        &Multipart::new()
            .part("meta", &submission_meta(&code))
            .part("report", &report)
            .part("attachment", &a)
            .finish(),
    );
    assert_eq!(r.status, 201, "{}", r.summary());
}

/// A client that writes its whole request before reading (as simple HTTP
/// clients do) gets the early 413 for an attachment over the limit, not a
/// connection reset: the server answers, then reads and discards the rest
/// of the body before closing (`wbs_server::linger`). Without that, the
/// kernel resets a connection closed with unread data, and the reset
/// destroys the answer the client had not read yet.
#[test]
fn an_early_refusal_reaches_a_client_that_is_still_sending() {
    use std::io::{Read, Write};
    // The object limit is hit a few hundred KiB into a request the request
    // limit allows, so the refusal comes mid-body.
    let f = Fixture::start(ServerOptions {
        extra_config: format!(
            "[limits]\nmax_object_bytes = {MAX_OBJECT}\nmax_request_bytes = {}\n",
            64 << 20
        ),
        ..Default::default()
    });
    for round in 0..3 {
        let (_, meta, report) = fresh(&f);
        // Far past the limit: megabytes still to come when the server
        // refuses, more than the socket buffers hold.
        let (a, _) = attachment_object(&f.recipients, "a", &vec![1u8; 12 << 20]);
        let body = Multipart::new()
            .part("meta", &meta)
            .part("report", &report)
            .part("attachment", &a)
            .finish();
        let mut stream = std::net::TcpStream::connect(&f.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "POST {SUBMISSIONS} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
            f.addr,
            multipart_type(),
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream
            .write_all(&body)
            .unwrap_or_else(|e| panic!("round {round}: the server cut the upload: {e}"));
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .unwrap_or_else(|e| panic!("round {round}: the answer was lost: {e}"));
        let reply = hostile::parse_reply(&answer);
        assert_eq!(reply.status, 413, "round {round}: {}", reply.summary());
        assert_eq!(reply.json()["error"]["code"], "payload_too_large");
    }
    f.assert_serving().unwrap();
}
