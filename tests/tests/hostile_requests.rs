//! Hostile requests at the HTTP layer, against the real server process:
//! header floods, broken framing, path tricks, odd methods, malformed JSON
//! on the status route, desk authentication and desk parameters.
//!
//! Every case must get its documented status and JSON error code (or, for
//! what the HTTP parser refuses before any handler runs, a plain refusal or
//! a closed connection), leave the server serving, and store nothing. The
//! shared machinery is in `hostile/mod.rs`.

mod hostile;

use hostile::{
    chunked, get, post_json, request, run_cases, status_body, Case, Fixture, Reply, Want,
};
use wbs_e2e::ServerOptions;
use wbs_protocol::ReceiptCode;

fn options() -> ServerOptions {
    ServerOptions {
        keys: 2,
        tokens: vec!["desk1".into(), "desk2".into()],
        extra_config: "[limits]\nstatus_per_second = 100000\n".into(),
        ..Default::default()
    }
}

/// Turns an answer into a failure (status 999) when `bad` holds, so a case
/// can check more than status and code.
fn unless(reply: Reply, bad: impl Fn(&Reply) -> bool, why: &str) -> Reply {
    if bad(&reply) {
        Reply {
            status: 999,
            body: format!("{why}: {}", reply.summary()).into_bytes(),
            ..Default::default()
        }
    } else {
        reply
    }
}

fn status_json(body: &[u8]) -> Vec<u8> {
    post_json("/api/v1/status", body)
}

fn http_layer_cases() -> Vec<Case> {
    use Want::*;
    vec![
        Case::new("header_line_over_64_kib", Transport(&[431]), |f| {
            let big = "a".repeat(70 * 1024);
            f.send(request("GET", "/healthz", &[("X-Big", &big)], b""))
        }),
        Case::new("header_count_over_100", Transport(&[431]), |f| {
            let names: Vec<String> = (0..200).map(|i| format!("X-H{i}")).collect();
            let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
            f.send(request("GET", "/healthz", &headers, b""))
        }),
        Case::new("request_line_over_64_kib", Transport(&[414, 431]), |f| {
            f.send(get(&format!("/{}", "a".repeat(70 * 1024))))
        }),
        Case::new("header_block_never_ends", Transport(&[431]), |f| {
            // 100 KiB of header bytes without the blank line.
            let mut r = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
            for i in 0..2000 {
                r.extend_from_slice(format!("X-{i}: {}\r\n", "b".repeat(40)).as_bytes());
            }
            f.send(r)
        }),
        Case::new("garbage_request_line", Transport(&[400]), |f| {
            f.send(b"HELLO THERE\r\n\r\n".to_vec())
        }),
        Case::new("binary_garbage_instead_of_http", Transport(&[400]), |f| {
            f.send((0u8..=255).cycle().take(4096).collect())
        }),
        Case::new("unsupported_http_version", Transport(&[400, 505]), |f| {
            f.send(b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n".to_vec())
        }),
        Case::new(
            "http2_preface_on_http1_server",
            Transport(&[400, 505]),
            |f| f.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        ),
        Case::new("content_length_not_a_number", Transport(&[400]), |f| {
            f.send(request(
                "POST",
                "/api/v1/status",
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Length", "abc"),
                ],
                b"{}",
            ))
        }),
        Case::new("two_different_content_lengths", Transport(&[400]), |f| {
            let body = status_body(&f.seed);
            f.send(
                [
                    format!(
                        "POST /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                         Content-Type: application/json\r\nContent-Length: {}\r\nContent-Length: 3\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                    &body,
                ]
                .concat(),
            )
        }),
        Case::new("chunked_size_not_hex", Transport(&[400]), |f| {
            f.send(request(
                "POST",
                "/api/v1/status",
                &[
                    ("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked"),
                ],
                b"zz\r\n{}\r\n0\r\n\r\n",
            ))
        }),
        Case::new("chunked_size_overflows", Transport(&[400, 413]), |f| {
            f.send(request(
                "POST",
                "/api/v1/status",
                &[
                    ("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked"),
                ],
                b"ffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
            ))
        }),
        Case::new("unknown_transfer_encoding", Transport(&[400, 501]), |f| {
            f.send(request(
                "POST",
                "/api/v1/status",
                &[
                    ("Content-Type", "application/json"),
                    ("Transfer-Encoding", "gzip"),
                ],
                b"{}",
            ))
        }),
        // A smuggling attempt: with both framings the server must go by
        // the chunked one and close after answering (RFC 9112 §6.1), so
        // the request hidden in the body is never served. No
        // `Connection: close` here: the server has to close on its own.
        Case::new(
            "content_length_and_chunked_smuggling",
            Error(400, "malformed_json"),
            |f| {
                let smuggled = b"0\r\n\r\nGET /api/v1/config HTTP/1.1\r\nHost: x\r\n\r\n";
                let mut r = format!(
                    "POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
                    smuggled.len()
                )
                .into_bytes();
                r.extend_from_slice(smuggled);
                let raw = hostile::exchange_raw(&f.addr, r, false);
                let answers = raw.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
                unless(
                    hostile::parse_reply(&raw),
                    |_| answers != 1,
                    "the request hidden in the body was served",
                )
            },
        ),
        Case::new("obsolete_header_line_folding", Transport(&[400]), |f| {
            f.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n  folded\r\n\r\n".to_vec())
        }),
        Case::new("nul_byte_in_header_value", Transport(&[400]), |f| {
            f.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-N: a\0b\r\n\r\n".to_vec())
        }),
    ]
}

fn path_cases() -> Vec<Case> {
    use Want::*;
    let nf = Error(404, "not_found");
    vec![
        Case::new("path_dotdot_raw", nf, |f| {
            f.send(get("/api/v1/../../../../etc/passwd"))
        }),
        Case::new("path_dotdot_through_assets", nf, |f| {
            f.send(get("/assets/../Cargo.toml"))
        }),
        Case::new("path_percent_encoded_dotdot", nf, |f| {
            f.send(get("/%2e%2e/%2e%2e/Cargo.toml"))
        }),
        Case::new("path_asset_name_with_encoded_slash", nf, |f| {
            f.send(get("/assets/..%2fCargo.toml"))
        }),
        Case::new("path_asset_name_fully_encoded", nf, |f| {
            f.send(get("/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd"))
        }),
        Case::new("path_asset_name_with_backslashes", nf, |f| {
            f.send(get("/assets/..%5c..%5cCargo.toml"))
        }),
        Case::new("path_asset_unknown", nf, |f| f.send(get("/assets/nope.js"))),
        Case::new("path_asset_html_through_assets", nf, |f| {
            f.send(get("/assets/index.html"))
        }),
        Case::new("path_leading_double_slash", nf, |f| {
            f.send(get("//api/v1/config"))
        }),
        Case::new("path_inner_double_slash", nf, |f| {
            f.send(get("/api/v1//config"))
        }),
        Case::new("path_trailing_slash", nf, |f| {
            f.send(get("/api/v1/config/"))
        }),
        Case::new("path_encoded_nul", nf, |f| f.send(get("/api/v1/config%00"))),
        Case::new("path_8_kib_long", nf, |f| {
            f.send(get(&format!("/api/v1/{}", "x".repeat(8 * 1024))))
        }),
        Case::new("path_absolute_form_with_dotdot", nf, |f| {
            f.send(get("http://127.0.0.1/api/v1/../../Cargo.toml"))
        }),
        Case::new("path_case_variant", nf, |f| f.send(get("/API/V1/CONFIG"))),
        Case::new("path_unknown_api_version", nf, |f| {
            f.send(get("/api/v2/config"))
        }),
    ]
}

fn method_cases() -> Vec<Case> {
    use Want::*;
    let na = Error(405, "method_not_allowed");
    vec![
        Case::new("method_delete_on_status", na, |f| {
            f.send(request("DELETE", "/api/v1/status", &[], b""))
        }),
        Case::new("method_put_on_submissions", na, |f| {
            f.send(request("PUT", "/api/v1/submissions", &[], b"x"))
        }),
        Case::new("method_patch_on_config", na, |f| {
            f.send(request("PATCH", "/api/v1/config", &[], b"{}"))
        }),
        Case::new("method_get_on_submissions", na, |f| {
            f.send(get("/api/v1/submissions"))
        }),
        Case::new("method_invented_verb", na, |f| {
            f.send(request("BREW", "/api/v1/config", &[], b""))
        }),
        Case::new("method_trace_does_not_echo", na, |f| {
            let r = f.send(request(
                "TRACE",
                "/api/v1/config",
                &[("X-Echo", "secret")],
                b"",
            ));
            unless(
                r,
                |r| r.body.windows(6).any(|w| w == b"secret"),
                "TRACE echoed the request",
            )
        }),
        Case::new("method_options_is_not_cors", na, |f| {
            let r = f.send(request(
                "OPTIONS",
                "/api/v1/status",
                &[
                    ("Origin", "https://evil.example"),
                    ("Access-Control-Request-Method", "POST"),
                ],
                b"",
            ));
            unless(
                r,
                |r| {
                    r.headers
                        .iter()
                        .any(|(n, _)| n.starts_with("access-control-"))
                },
                "answered a CORS preflight",
            )
        }),
        Case::new("method_head_on_post_route", Status(405), |f| {
            f.send(request("HEAD", "/api/v1/status", &[], b""))
        }),
        Case::new("method_head_on_config_has_no_body", Status(200), |f| {
            let r = f.send(request("HEAD", "/api/v1/config", &[], b""));
            unless(r, |r| !r.body.is_empty(), "HEAD answered with a body")
        }),
        Case::new("method_head_on_desk_needs_token", Status(401), |f| {
            let r = f.send_desk(request("HEAD", "/api/v1/desk/cases", &[], b""));
            unless(r, |r| !r.body.is_empty(), "HEAD answered with a body")
        }),
        Case::new("method_connect", Transport(&[400, 404, 405]), |f| {
            f.send(
                b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            )
        }),
    ]
}

fn status_json_cases() -> Vec<Case> {
    use Want::*;
    let malformed = Error(400, "malformed_json");
    let shape = Error(422, "invalid_json");
    vec![
        Case::new(
            "status_wrong_content_type",
            Error(415, "unsupported_media_type"),
            |f| {
                f.send(request(
                    "POST",
                    "/api/v1/status",
                    &[("Content-Type", "text/plain")],
                    &status_body(&f.seed),
                ))
            },
        ),
        Case::new(
            "status_without_content_type",
            Error(415, "unsupported_media_type"),
            |f| {
                f.send(request(
                    "POST",
                    "/api/v1/status",
                    &[],
                    &status_body(&f.seed),
                ))
            },
        ),
        Case::new(
            "status_form_encoded",
            Error(415, "unsupported_media_type"),
            |f| {
                f.send(request(
                    "POST",
                    "/api/v1/status",
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    b"lookup=x",
                ))
            },
        ),
        Case::new("status_invalid_utf8", malformed, |f| {
            f.send(status_json(b"{\"lookup\": \"\xff\xfe\xfd\"}"))
        }),
        Case::new("status_lone_surrogate_escape", malformed, |f| {
            // JSON grammar allows it; serde_json (and I-JSON) do not.
            f.send(status_json(br#"{"lookup": "\ud800"}"#))
        }),
        Case::new("status_unknown_field", shape, |f| {
            f.send(status_json(br#"{"lookup": "x", "receipt": "ABCDE"}"#))
        }),
        Case::new("status_wrong_type", shape, |f| {
            f.send(status_json(br#"{"lookup": 12345}"#))
        }),
        Case::new("status_missing_field", shape, |f| {
            f.send(status_json(b"{}"))
        }),
        Case::new("status_null_body", shape, |f| f.send(status_json(b"null"))),
        Case::new("status_array_body", shape, |f| f.send(status_json(b"[]"))),
        Case::new("status_deeply_nested", shape, |f| {
            let depth = 30_000; // 60 KB: under the 64 KiB body limit
            let mut b = "[".repeat(depth);
            b.push_str(&"]".repeat(depth));
            f.send(status_json(b.as_bytes()))
        }),
        Case::new("status_deeply_nested_object_value", shape, |f| {
            let depth = 10_000;
            let mut b = String::from("{\"lookup\":");
            b.push_str(&"{\"a\":".repeat(depth));
            b.push('1');
            b.push_str(&"}".repeat(depth + 1));
            f.send(status_json(b.as_bytes()))
        }),
        Case::new("status_huge_number", malformed, |f| {
            f.send(status_json(br#"{"lookup": 1e999999}"#))
        }),
        Case::new("status_huge_integer", malformed, |f| {
            let digits = "9".repeat(10_000);
            f.send(status_json(format!("{{\"lookup\": {digits}}}").as_bytes()))
        }),
        Case::new("status_duplicated_keys", shape, |f| {
            let good = f.seed.lookup_key().to_base64url();
            f.send(status_json(
                format!(r#"{{"lookup": "nothing", "lookup": "{good}"}}"#).as_bytes(),
            ))
        }),
        Case::new("status_trailing_garbage", malformed, |f| {
            let mut b = status_body(&f.seed);
            b.extend_from_slice(b" {\"lookup\": \"x\"}");
            f.send(status_json(&b))
        }),
        Case::new("status_empty_body", malformed, |f| f.send(status_json(b""))),
        Case::new("status_truncated_json", malformed, |f| {
            f.send(status_json(br#"{"lookup": "abc"#))
        }),
        Case::new("status_utf8_bom", malformed, |f| {
            let mut b = b"\xef\xbb\xbf".to_vec();
            b.extend_from_slice(&status_body(&f.seed));
            f.send(status_json(&b))
        }),
        Case::new(
            "status_body_over_64_kib",
            Error(413, "payload_too_large"),
            |f| {
                let filler = " ".repeat(70 * 1024);
                f.send(status_json(
                    format!("{{\"lookup\": \"x\"{filler}}}").as_bytes(),
                ))
            },
        ),
        Case::new(
            "status_chunked_body_over_64_kib",
            Error(413, "payload_too_large"),
            |f| {
                let filler = " ".repeat(70 * 1024);
                let body = format!("{{\"lookup\": \"x\"{filler}}}");
                f.send(request(
                    "POST",
                    "/api/v1/status",
                    &[
                        ("Content-Type", "application/json"),
                        ("Transfer-Encoding", "chunked"),
                    ],
                    &chunked(body.as_bytes(), 4096),
                ))
            },
        ),
        Case::new("status_malformed_lookup", Error(404, "not_found"), |f| {
            f.send(status_json(br#"{"lookup": "not base64url!"}"#))
        }),
        Case::new("status_unknown_lookup", Error(404, "not_found"), |f| {
            f.send(status_json(&status_body(&ReceiptCode::generate())))
        }),
        Case::new(
            "status_lookup_is_receipt_code",
            Error(404, "not_found"),
            |f| {
                // A client that sends the code itself instead of the lookup key.
                let code = f.seed.canonical().to_string();
                f.send(status_json(format!(r#"{{"lookup": "{code}"}}"#).as_bytes()))
            },
        ),
    ]
}

fn desk_cases() -> Vec<Case> {
    use Want::*;
    let unauth = Error(401, "unauthorized");
    let desk = |f: &Fixture, method: &str, path: &str, auth: Option<&str>, body: &[u8]| {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        f.send_desk(request(method, path, &headers, body))
    };
    vec![
        Case::new("desk_cases_without_token", unauth, move |f| {
            desk(f, "GET", "/api/v1/desk/cases", None, b"")
        }),
        Case::new("desk_export_without_token", unauth, move |f| {
            desk(f, "GET", "/api/v1/desk/export", None, b"")
        }),
        Case::new("desk_import_without_token", unauth, move |f| {
            desk(f, "POST", "/api/v1/desk/import", None, b"not a tar")
        }),
        Case::new("desk_status_without_token", unauth, move |f| {
            let path = format!("/api/v1/desk/cases/{}/status", f.seed_case_id());
            desk(f, "POST", &path, None, br#"{"status":"rejected"}"#)
        }),
        Case::new("desk_wrong_token", unauth, move |f| {
            let wrong = format!("Bearer wbs_{}", "A".repeat(43));
            desk(f, "GET", "/api/v1/desk/cases", Some(&wrong), b"")
        }),
        Case::new("desk_token_with_one_byte_changed", unauth, move |f| {
            let mut t = f.token.clone().into_bytes();
            let last = t.len() - 1;
            t[last] = if t[last] == b'A' { b'B' } else { b'A' };
            let auth = format!("Bearer {}", String::from_utf8(t).unwrap());
            desk(f, "GET", "/api/v1/desk/cases", Some(&auth), b"")
        }),
        Case::new("desk_token_hash_instead_of_token", unauth, move |f| {
            use sha2::Digest;
            let hash = wbs_protocol::hex(&sha2::Sha256::digest(f.token.as_bytes()));
            desk(
                f,
                "GET",
                "/api/v1/desk/cases",
                Some(&format!("Bearer {hash}")),
                b"",
            )
        }),
        Case::new("desk_basic_auth", unauth, move |f| {
            desk(
                f,
                "GET",
                "/api/v1/desk/cases",
                Some("Basic ZGVzazE6cGFzc3dvcmQ="),
                b"",
            )
        }),
        Case::new("desk_empty_bearer", unauth, move |f| {
            desk(f, "GET", "/api/v1/desk/cases", Some("Bearer "), b"")
        }),
        Case::new("desk_token_10_kib", unauth, move |f| {
            let auth = format!("Bearer {}", "x".repeat(10 * 1024));
            desk(f, "GET", "/api/v1/desk/cases", Some(&auth), b"")
        }),
        Case::new("desk_token_not_ascii", unauth, move |f| {
            f.send_desk(
                b"GET /api/v1/desk/cases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                  Authorization: Bearer \xe9\xe9\xe9\r\n\r\n"
                    .to_vec(),
            )
        }),
        Case::new("desk_token_twice", unauth, move |f| {
            let auth = format!("Bearer {} {}", f.token, f.token);
            desk(f, "GET", "/api/v1/desk/cases", Some(&auth), b"")
        }),
        Case::new("desk_token_in_query", unauth, move |f| {
            let path = format!("/api/v1/desk/cases?token={}", f.token);
            desk(f, "GET", &path, None, b"")
        }),
        Case::new(
            "desk_export_cursor_not_a_number",
            Error(400, "invalid_cursor"),
            move |f| {
                let auth = f.bearer();
                desk(f, "GET", "/api/v1/desk/export?since=abc", Some(&auth), b"")
            },
        ),
        Case::new(
            "desk_export_cursor_negative",
            Error(400, "invalid_cursor"),
            move |f| {
                let auth = f.bearer();
                desk(f, "GET", "/api/v1/desk/export?since=-1", Some(&auth), b"")
            },
        ),
        Case::new(
            "desk_export_cursor_overflows_u64",
            Error(400, "invalid_cursor"),
            move |f| {
                let auth = f.bearer();
                desk(
                    f,
                    "GET",
                    "/api/v1/desk/export?since=184467440737095516160",
                    Some(&auth),
                    b"",
                )
            },
        ),
        Case::new(
            "desk_export_cursor_fraction",
            Error(400, "invalid_cursor"),
            move |f| {
                let auth = f.bearer();
                desk(f, "GET", "/api/v1/desk/export?since=1.5", Some(&auth), b"")
            },
        ),
        Case::new(
            "desk_export_unknown_query_parameter",
            Error(400, "bad_query"),
            move |f| {
                let auth = f.bearer();
                desk(f, "GET", "/api/v1/desk/export?all=1", Some(&auth), b"")
            },
        ),
        Case::new(
            "desk_export_cursor_given_twice",
            Error(400, "bad_query"),
            move |f| {
                let auth = f.bearer();
                desk(
                    f,
                    "GET",
                    "/api/v1/desk/export?since=0&since=1",
                    Some(&auth),
                    b"",
                )
            },
        ),
        Case::new(
            "desk_status_unknown_value",
            Error(422, "invalid_json"),
            move |f| {
                let auth = f.bearer();
                let path = format!("/api/v1/desk/cases/{}/status", f.seed_case_id());
                desk(f, "POST", &path, Some(&auth), br#"{"status":"deleted"}"#)
            },
        ),
        Case::new(
            "desk_status_unknown_field",
            Error(422, "invalid_json"),
            move |f| {
                let auth = f.bearer();
                let path = format!("/api/v1/desk/cases/{}/status", f.seed_case_id());
                desk(
                    f,
                    "POST",
                    &path,
                    Some(&auth),
                    br#"{"status":"rejected","note":"x"}"#,
                )
            },
        ),
        Case::new(
            "desk_status_malformed_json",
            Error(400, "malformed_json"),
            move |f| {
                let auth = f.bearer();
                let path = format!("/api/v1/desk/cases/{}/status", f.seed_case_id());
                desk(f, "POST", &path, Some(&auth), br#"{"status":"#)
            },
        ),
        Case::new(
            "desk_status_unknown_case",
            Error(404, "not_found"),
            move |f| {
                let auth = f.bearer();
                desk(
                    f,
                    "POST",
                    "/api/v1/desk/cases/nosuchcase/status",
                    Some(&auth),
                    br#"{"status":"rejected"}"#,
                )
            },
        ),
        Case::new(
            "desk_status_case_id_path_trick",
            Error(404, "not_found"),
            move |f| {
                let auth = f.bearer();
                desk(
                    f,
                    "POST",
                    "/api/v1/desk/cases/..%2f..%2fetc/status",
                    Some(&auth),
                    br#"{"status":"rejected"}"#,
                )
            },
        ),
        Case::new(
            "desk_status_case_id_too_long",
            Error(404, "not_found"),
            move |f| {
                let auth = f.bearer();
                let path = format!("/api/v1/desk/cases/{}/status", "a".repeat(5000));
                desk(f, "POST", &path, Some(&auth), br#"{"status":"rejected"}"#)
            },
        ),
    ]
}

#[test]
fn hostile_http_requests_are_refused_and_change_nothing() {
    let fixture = Fixture::start(options());
    let mut cases = http_layer_cases();
    cases.extend(path_cases());
    cases.extend(method_cases());
    cases.extend(status_json_cases());
    cases.extend(desk_cases());
    let n = run_cases(&fixture, cases);
    eprintln!("{n} hostile HTTP cases passed");
}

/// The control for the cases above: the same requests, done right, work.
/// Without it a broken harness would make every "refused" case pass.
#[test]
fn the_well_formed_versions_are_served() {
    let f = Fixture::start(options());
    assert_eq!(f.seed_status().status, 200);
    let r = f.send(get("/api/v1/config"));
    assert_eq!(r.status, 200, "{}", r.summary());
    let r = f.send(get("/assets/app.js"));
    assert_eq!(r.status, 200, "{}", r.summary());
    let r = f.send_desk(request(
        "GET",
        "/api/v1/desk/export?since=0",
        &[("Authorization", &f.bearer())],
        b"",
    ));
    assert_eq!(r.status, 200, "{}", r.summary());
    assert!(r.header("x-wbs-cursor").is_some());
    let path = format!("/api/v1/desk/cases/{}/status", f.seed_case_id());
    let r = f.send_desk(request(
        "POST",
        &path,
        &[
            ("Authorization", &f.bearer()),
            ("Content-Type", "application/json"),
        ],
        br#"{"status":"in_review"}"#,
    ));
    assert_eq!(r.status, 200, "{}", r.summary());
    assert_eq!(f.seed_status().json()["status"], "in_review");
}

/// A revoked token stops working at once (after the restart that
/// revoking needs), while the other investigator's token keeps working.
#[test]
fn a_revoked_token_is_refused() {
    let mut f = Fixture::start(options());
    let desk2 = std::fs::read_to_string(&f.server.token_files[1].1)
        .unwrap()
        .trim()
        .to_string();
    let cases_with = |f: &Fixture, token: &str| {
        f.send_desk(request(
            "GET",
            "/api/v1/desk/cases",
            &[("Authorization", &format!("Bearer {token}"))],
            b"",
        ))
    };
    assert_eq!(cases_with(&f, &desk2).status, 200);
    f.server.stop();
    let out = std::process::Command::new(wbs_e2e::bin("wbs-server"))
        .arg("--config")
        .arg(&f.server.config)
        .args(["token", "revoke", "desk2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.server.spawn();
    f.addr = hostile::addr_of(&f.server.url);
    f.desk_addr = hostile::addr_of(&f.server.desk_url);
    let before = f.snapshot();
    let r = cases_with(&f, &desk2);
    hostile::check_reply(&r, Want::Error(401, "unauthorized")).unwrap();
    let path = format!("/api/v1/desk/cases/{}/status", f.seed_case_id());
    let r = f.send_desk(request(
        "POST",
        &path,
        &[
            ("Authorization", &format!("Bearer {desk2}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"status":"rejected"}"#,
    ));
    hostile::check_reply(&r, Want::Error(401, "unauthorized")).unwrap();
    f.assert_serving().unwrap();
    f.assert_unchanged(&before).unwrap();
    assert_eq!(cases_with(&f, &f.token).status, 200);
}
