//! A status look-up that finds nothing answers exactly like every other
//! miss, whatever the reason: a malformed key, a well-formed key nobody
//! filed, or the key of a case that retention deleted. Same status, same
//! body, same headers (but `Date`), and no large difference in time from a
//! hit, so probing learns nothing. (DESIGN.md "HTTP API"; PROTOCOL.md §7.)

mod hostile;

use std::time::{Duration, Instant};

use hostile::{post_json, status_body, Fixture, Reply};
use wbs_e2e::ServerOptions;
use wbs_protocol::ReceiptCode;
use wbs_store::MetaStore;

fn options() -> ServerOptions {
    ServerOptions {
        keys: 1,
        extra_config: "[limits]\nstatus_per_second = 100000\n".into(),
        ..Default::default()
    }
}

fn lookup(f: &Fixture, body: &[u8]) -> Reply {
    f.send(post_json("/api/v1/status", body))
}

/// Headers without `date`, in the order sent.
fn headers_but_date(r: &Reply) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(n, _)| n != "date")
        .cloned()
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn every_miss_looks_the_same_and_takes_about_as_long_as_a_hit() {
    let mut f = Fixture::start(options());
    let deleted = ReceiptCode::generate();
    assert_eq!(f.submit(&deleted, "to be deleted").status, 201);
    let cases = f.desk_cases();
    let deleted_id = cases["cases"][1]["id"].as_str().unwrap().to_string();

    // Delete the second case the way retention does, with the server
    // stopped (the store is locked while it runs).
    f.server.stop();
    {
        let store = wbs_store::SledStore::create_or_open(&f.server.data).unwrap();
        store
            .delete_case(&wbs_store::CaseId::parse(&deleted_id).unwrap())
            .unwrap();
        store.flush().unwrap();
    }
    f.server.spawn();
    f.addr = hostile::addr_of(&f.server.url);
    f.desk_addr = hostile::addr_of(&f.server.desk_url);
    assert_eq!(f.desk_cases()["cases"].as_array().unwrap().len(), 1);

    let unknown = ReceiptCode::generate();
    let misses: Vec<(&str, Vec<u8>)> = vec![
        ("unknown but well-formed", status_body(&unknown)),
        ("deleted case", status_body(&deleted)),
        ("not base64url", br#"{"lookup":"not base64url!"}"#.to_vec()),
        (
            "wrong length",
            br#"{"lookup":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#.to_vec(),
        ),
        ("empty", br#"{"lookup":""}"#.to_vec()),
        (
            "the receipt code itself",
            format!(r#"{{"lookup":"{}"}}"#, unknown.canonical()).into_bytes(),
        ),
    ];
    let reference = lookup(&f, &misses[0].1);
    assert_eq!(reference.status, 404);
    assert_eq!(reference.error_code().as_deref(), Some("not_found"));
    for (what, body) in &misses {
        let r = lookup(&f, body);
        assert_eq!(r.status, reference.status, "{what}");
        assert_eq!(r.body, reference.body, "{what}: body differs");
        assert_eq!(
            headers_but_date(&r),
            headers_but_date(&reference),
            "{what}: headers differ"
        );
    }
    // And a hit is a hit.
    assert_eq!(f.seed_status().status, 200);

    // Timing: alternate hits and misses of each kind, compare medians.
    let rounds = 150;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); 3];
    let bodies = [
        status_body(&f.seed),
        status_body(&unknown),
        br#"{"lookup":"not base64url!"}"#.to_vec(),
    ];
    for _ in 0..rounds {
        for (i, b) in bodies.iter().enumerate() {
            let start = Instant::now();
            let r = lookup(&f, b);
            times[i].push(start.elapsed());
            assert!(r.status == 200 || r.status == 404);
        }
    }
    let [hit, miss, malformed] = [0, 1, 2].map(|i| median(times[i].clone()));
    eprintln!(
        "status look-up medians over {rounds} rounds (new connection each): \
         hit {hit:?}, unknown {miss:?}, malformed {malformed:?}"
    );
    // Coarse on purpose: this catches a different class of work (a
    // key-stretching hash on hits only, a sleep, a scan), not noise.
    let close = |a: Duration, b: Duration| a.abs_diff(b) < Duration::from_millis(5);
    assert!(close(hit, miss), "hit {hit:?} vs miss {miss:?}");
    assert!(
        close(miss, malformed),
        "miss {miss:?} vs malformed {malformed:?}"
    );
}
