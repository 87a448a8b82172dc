//! What only the PostgreSQL backend does: migrations and the refusal of a
//! newer schema, chunked blobs, deleting chunks with their case, snapshots
//! over MVCC, several instances on one database, restores in both
//! directions, and what the tables may hold.

mod common;

use std::io::{Read, Write};

use common::*;
use wbs_store::testing::TestDb;
use wbs_store::{BlobStore, MetaStore, PgStore, Store, StoreError, StoreLocation};

fn pg(db: &TestDb) -> PgStore {
    PgStore::open(db.url()).unwrap()
}

fn psql(db: &TestDb, sql: &str) {
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    client.batch_execute(sql).unwrap();
}

/// Bytes that differ along the blob, so a chunk in the wrong place shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 65_536) as u8)
        .collect()
}

#[test]
fn a_schema_newer_than_the_binary_is_refused_naming_both_versions() {
    let db = TestDb::new();
    let store = pg(&db);
    assert_eq!(store.schema_version().unwrap(), 1);
    drop(store);
    psql(&db, "UPDATE wbs_schema SET version = 7");
    let err = PgStore::open(db.url()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Incompatible(_)), "{err:?}");
    assert!(
        msg.contains("version 7") && msg.contains("version 1"),
        "{msg}"
    );
    // Nothing was changed by the refusal.
    assert_eq!(db.count("SELECT version::bigint FROM wbs_schema"), 7);
}

#[test]
fn opening_twice_or_concurrently_migrates_once() {
    let db = TestDb::new();
    let url = db.url().to_owned();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::open(&url).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    assert_eq!(db.count("SELECT version::bigint FROM wbs_schema"), 1);
    assert_eq!(db.count("SELECT count(*) FROM counters"), 2);
    // open_existing refuses a database without the schema.
    let empty = TestDb::new();
    assert!(matches!(
        PgStore::open_existing(empty.url()),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn a_blob_is_stored_in_chunks_and_read_back_whole() {
    let db = TestDb::new();
    let store = pg(&db);
    let bytes = pattern(5 * 256 * 1024 + 3);
    let mut sink = store.blob_sink().unwrap();
    // Odd write sizes, across chunk boundaries.
    for part in bytes.chunks(100_003) {
        sink.write_all(part).unwrap();
    }
    let staged = sink.finish().unwrap();
    assert_eq!(staged.size, bytes.len() as u64);
    assert_eq!(
        db.count("SELECT count(*) FROM blob_chunks"),
        6,
        "five full chunks and a short one"
    );
    assert_eq!(
        db.count("SELECT max(length(data))::bigint FROM blob_chunks"),
        256 * 1024
    );
    let mut back = Vec::new();
    store
        .open_blob(&staged.id)
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert!(back == bytes, "the blob came back different");
    // An empty blob is a blob too.
    let empty = store.blob_sink().unwrap().finish().unwrap();
    let mut back = Vec::new();
    store
        .open_blob(&empty.id)
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert!(back.is_empty());
}

#[test]
fn an_abandoned_upload_leaves_no_chunk() {
    let db = TestDb::new();
    let store = pg(&db);
    let mut sink = store.blob_sink().unwrap();
    sink.write_all(&pattern(3 * 256 * 1024)).unwrap();
    drop(sink);
    assert_eq!(db.count("SELECT count(*) FROM blob_chunks"), 0);
    assert_eq!(db.count("SELECT count(*) FROM blobs"), 0);
    // The connection it held went back to the pool in a usable state.
    new_case(&store, 1, 0);
}

/// A slow upload (a reporter on Tor) holds no database connection and no
/// open transaction between its chunks: more uploads in flight than the
/// pool has connections leave the store answering.
#[test]
fn uploads_in_flight_hold_no_connection_between_chunks() {
    let db = TestDb::new();
    let store = pg(&db);
    let mut sinks: Vec<_> = (0..40)
        .map(|_| {
            let mut sink = store.blob_sink().unwrap();
            sink.write_all(&pattern(256 * 1024 + 10)).unwrap();
            sink
        })
        .collect();
    let started = std::time::Instant::now();
    let case = new_case(&store, 1, 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        db.count(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND xact_start IS NOT NULL \
             AND pid <> pg_backend_pid()"
        ),
        0,
        "a transaction stays open between chunks"
    );
    // An incomplete blob can be neither read nor attached to a case.
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let row = client
        .query_one("SELECT id FROM blobs WHERE NOT complete LIMIT 1", &[])
        .unwrap();
    let id = wbs_store::BlobId::parse(row.get(0)).unwrap();
    assert!(matches!(store.open_blob(&id), Err(StoreError::NotFound)));
    let forged = wbs_store::StagedBlob {
        id,
        size: 0,
        sha256: [0; 32],
    };
    assert!(matches!(
        store.add_followup(&case.id, forged, vec![], LATER),
        Err(StoreError::Invalid(_))
    ));
    // They all finish, and their bytes are whole.
    let last = sinks.pop().unwrap().finish().unwrap();
    assert_eq!(last.size, 256 * 1024 + 10);
    assert_eq!(read_blob(&store, &last.id), pattern(256 * 1024 + 10));
    drop(sinks);
    assert_eq!(db.count("SELECT count(*) FROM blobs WHERE NOT complete"), 0);
    // The report of the case (one chunk) and the finished blob (two).
    assert_eq!(db.count("SELECT count(*) FROM blob_chunks"), 1 + 2);
}

#[test]
fn deleting_a_case_deletes_its_chunks_in_the_same_transaction() {
    let db = TestDb::new();
    let store = pg(&db);
    let keep = new_case(&store, 1, 0);
    let report = {
        let mut sink = store.blob_sink().unwrap();
        sink.write_all(&pattern(600_000)).unwrap();
        sink.finish().unwrap()
    };
    let doomed = store
        .create_case(lookup(2), RECIPIENT, DAY, report, vec![stage(&store, b"a")])
        .unwrap();
    let chunks_before = db.count("SELECT count(*) FROM blob_chunks");
    assert_eq!(chunks_before, 1 + 3 + 1);

    // While the delete's transaction is open (held back by a lock on the
    // case row), another connection still sees every chunk; after its
    // commit, none of the case's. No moment shows records without chunks
    // or chunks without records.
    let mut blocker = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let mut tx = blocker.transaction().unwrap();
    tx.execute(
        "SELECT 1 FROM cases WHERE id = $1 FOR UPDATE",
        &[&doomed.id.as_str()],
    )
    .unwrap();
    let deleting = {
        let url = db.url().to_owned();
        let id = doomed.id.clone();
        std::thread::spawn(move || PgStore::open(&url).unwrap().delete_case(&id))
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(db.count("SELECT count(*) FROM blob_chunks"), chunks_before);
    assert_eq!(db.count("SELECT count(*) FROM objects"), 3);
    tx.commit().unwrap();
    deleting.join().unwrap().unwrap();
    assert_eq!(db.count("SELECT count(*) FROM blob_chunks"), 1);
    assert_eq!(db.count("SELECT count(*) FROM blobs"), 1);
    assert_eq!(db.count("SELECT count(*) FROM objects"), 1);
    assert_eq!(store.all_cases().unwrap(), vec![keep]);
}

#[test]
fn a_snapshot_still_reads_the_blobs_of_a_case_deleted_after_it() {
    let db = TestDb::new();
    let store = pg(&db);
    let case = new_case(&store, 1, 1);
    let snapshot = store.snapshot().unwrap();
    store.delete_case(&case.id).unwrap();
    assert_eq!(db.count("SELECT count(*) FROM blob_chunks"), 0);
    assert_eq!(snapshot.records.cases.len(), 1);
    for o in &snapshot.records.objects {
        let mut bytes = Vec::new();
        snapshot
            .open_blob(&o.blob)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len() as u64, o.size);
        assert!(matches!(
            store.open_blob(&o.blob),
            Err(StoreError::NotFound)
        ));
    }
    snapshot.records.check().unwrap();
}

#[test]
fn staged_blobs_nobody_used_are_swept_after_two_days_only() {
    let db = TestDb::new();
    let store = pg(&db);
    let old = stage(&store, b"abandoned by a crashed instance");
    let fresh = stage(&store, b"another instance is still uploading");
    let used = new_case(&store, 1, 0);
    psql(
        &db,
        &format!(
            "UPDATE blobs SET staged_on = current_date - 3 WHERE id IN ('{}', '{}')",
            old.id,
            store.objects_of_case(&used.id).unwrap()[0].blob
        ),
    );
    drop(store);
    let store = pg(&db);
    assert!(matches!(
        store.open_blob(&old.id),
        Err(StoreError::NotFound)
    ));
    assert!(
        store.open_blob(&fresh.id).is_ok(),
        "a fresh staged blob went"
    );
    let report = &store.objects_of_case(&used.id).unwrap()[0];
    assert_eq!(read_blob(&store, &report.blob), b"report 1");
}

#[test]
fn instances_share_challenges_tokens_and_cases() {
    let db = TestDb::new();
    let a = pg(&db);
    let b = pg(&db);
    assert!(a.spend_pow([1; 16], 1_000, 10).unwrap());
    assert!(!b.spend_pow([1; 16], 1_000, 10).unwrap(), "spent twice");
    a.add_token(&tn("siti"), [5; 32], Some(vec![1; 48]))
        .unwrap();
    assert_eq!(b.token_name(&[5; 32]).unwrap(), Some(tn("siti")));
    assert!(b.accept_totp_step(&[5; 32], 100).unwrap());
    assert!(
        !a.accept_totp_step(&[5; 32], 100).unwrap(),
        "a code used twice"
    );
    let case = new_case(&a, 1, 0);
    assert_eq!(b.case_by_lookup(&lookup(1)).unwrap(), Some(case));
}

/// What the tables may hold: dates, never a time of day (the only Unix
/// times are the expiries of challenges, desk sessions and leases), and no
/// column that could hold a lookup key or receipt in the clear.
#[test]
fn no_table_has_a_time_of_day_column() {
    let db = TestDb::new();
    drop(pg(&db));
    let timed = db.count(
        "SELECT count(*) FROM information_schema.columns \
         WHERE table_schema = 'public' AND data_type LIKE '%time%'",
    );
    assert_eq!(timed, 0);
    let columns: Vec<String> = {
        let mut client = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
        client
            .query(
                "SELECT table_name || '.' || column_name FROM information_schema.columns \
                 WHERE table_schema = 'public' AND data_type = 'bigint' \
                 AND column_name IN ('expires_at', 'idle_until', 'until') ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(
        columns,
        [
            "leases.until",
            "pow_spent.expires_at",
            "sessions.expires_at",
            "sessions.idle_until"
        ]
    );
}

/// Restores move a store between the backends, both ways, and the result
/// holds the same records and blobs.
#[test]
fn a_store_moves_from_sled_to_postgres_and_back() {
    let (dir, sled) = fresh();
    let case = new_case(&sled, 1, 2);
    sled.add_followup(&case.id, stage(&sled, b"more"), vec![], LATER)
        .unwrap();
    sled.add_token(&tn("siti"), [3; 32], None).unwrap();
    sled.audit("siti", "export", "x").unwrap();
    let snapshot = sled.snapshot().unwrap();

    let db = TestDb::new();
    let target = StoreLocation::Postgres {
        url: db.url().to_owned(),
    };
    let mut restore = wbs_store::restore(&target, snapshot.records.clone()).unwrap();
    for o in &snapshot.records.objects {
        restore
            .write_blob(&o.blob, &mut snapshot.open_blob(&o.blob).unwrap())
            .unwrap();
    }
    let on_pg = restore.finish().unwrap();
    let pg_snapshot = on_pg.snapshot().unwrap();
    assert_eq!(pg_snapshot.records, snapshot.records);
    assert_eq!(on_pg.cursor().unwrap(), sled.cursor().unwrap());
    let next = new_case(&*on_pg, 2, 0);
    assert_eq!(next.first_seq, sled.cursor().unwrap() + 1);
    // A second restore into the same database is refused.
    assert!(matches!(
        wbs_store::restore(&target, snapshot.records.clone()),
        Err(StoreError::Invalid(_))
    ));

    // And back into a new data directory.
    let pg_snapshot = on_pg.snapshot().unwrap();
    let back = StoreLocation::Sled {
        data: dir.path().join("back"),
    };
    let mut restore = wbs_store::restore(&back, pg_snapshot.records.clone()).unwrap();
    for o in &pg_snapshot.records.objects {
        restore
            .write_blob(&o.blob, &mut pg_snapshot.open_blob(&o.blob).unwrap())
            .unwrap();
    }
    let on_sled = restore.finish().unwrap();
    assert_eq!(on_sled.snapshot().unwrap().records, pg_snapshot.records);
    for o in &pg_snapshot.records.objects {
        assert_eq!(read_blob(&*on_sled, &o.blob), read_blob(&*on_pg, &o.blob));
    }
}

#[test]
fn a_restore_refuses_a_blob_that_does_not_match_and_keeps_nothing_of_it() {
    let (_dir, sled) = fresh();
    new_case(&sled, 1, 0);
    let snapshot = sled.snapshot().unwrap();
    let db = TestDb::new();
    let target = StoreLocation::Postgres {
        url: db.url().to_owned(),
    };
    let id = snapshot.records.objects[0].blob.clone();
    {
        let mut restore = wbs_store::restore(&target, snapshot.records.clone()).unwrap();
        let err = restore
            .write_blob(&id, &mut &b"not the report"[..])
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        restore
            .write_blob(&id, &mut snapshot.open_blob(&id).unwrap())
            .unwrap();
        // Dropped unfinished: the database keeps nothing.
    }
    assert_eq!(db.count("SELECT count(*) FROM blobs"), 0);
    assert_eq!(db.count("SELECT count(*) FROM cases"), 0);
    let _: Box<dyn Store> = wbs_store::open(&target).unwrap();
}

/// Connections to this test database other than the asking one: (over
/// TLS, in the clear).
fn tls_and_plain_connections(db: &TestDb) -> (i64, i64) {
    let count = |ssl: &str| {
        db.count(&format!(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = current_database() AND s.pid <> pg_backend_pid() AND {ssl}"
        ))
    };
    (count("s.ssl"), count("NOT s.ssl"))
}

/// `sslmode=verify-full` (and `require`, which WBS verifies just as
/// strictly) with the operator's CA file connects over TLS, by name or by
/// address, and every connection of the store is encrypted.
#[test]
fn verify_full_with_the_servers_ca_connects_over_tls() {
    let db = TestDb::new_tls();
    let ca = db.tls_ca().display().to_string();
    for (host, mode) in [
        ("localhost", "verify-full"),
        ("127.0.0.1", "verify-full"),
        ("localhost", "require"),
    ] {
        let url = format!("{}?sslmode={mode}&sslrootcert={ca}", db.tcp_url(host));
        let store = PgStore::open(&url).unwrap_or_else(|e| panic!("{host} {mode}: {e}"));
        store.health().unwrap();
        let (tls, plain) = tls_and_plain_connections(&db);
        assert!(tls >= 1, "{host} {mode}: no TLS connection");
        assert_eq!(plain, 0, "{host} {mode}: a connection in the clear");
    }
    // The key=value form too.
    let url = format!(
        "host=localhost port={} user=wbs dbname={} sslmode=verify-full sslrootcert='{ca}'",
        db.tcp_url("h")
            .rsplit_once(':')
            .unwrap()
            .1
            .split('/')
            .next()
            .unwrap(),
        db.tcp_url("h").rsplit_once('/').unwrap().1,
    );
    PgStore::open(&url).unwrap().health().unwrap();
}

/// A server whose certificate another CA signed, or which is not the host
/// asked for, is refused before the password is sent, with an error that
/// says why and repeats no password.
#[test]
fn a_server_certificate_that_does_not_verify_is_refused() {
    let db = TestDb::new_tls();
    let other = tempfile::tempdir().unwrap();
    let made = std::process::Command::new("openssl")
        .current_dir(other.path())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=Another CA",
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let other_ca = other.path().join("ca.pem").display().to_string();
    let with_password = db.tcp_url("localhost").replace("wbs@", "wbs:s3cret@");
    let port = with_password
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let name = with_password.rsplit_once('/').unwrap().1.to_owned();
    for url in [
        // Another CA.
        format!("{with_password}?sslmode=verify-full&sslrootcert={other_ca}"),
        // No CA file: the webpki roots, which never signed a test CA.
        format!("{with_password}?sslmode=require"),
        // The right CA, but the certificate is not for this host name.
        format!(
            "host=db.example hostaddr=127.0.0.1 port={port} user=wbs password=s3cret \
             dbname={name} sslmode=verify-full sslrootcert={}",
            db.tls_ca().display()
        ),
    ] {
        let err = PgStore::open(&url).unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("TLS"), "{message}");
        assert!(message.contains("certificate"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}

/// Without TLS, only a Unix socket or loopback: a database elsewhere is
/// refused before any connection, the message saying what to set.
#[test]
fn a_remote_database_without_tls_is_refused_before_connecting() {
    let err = PgStore::open("postgresql://wbs:s3cret@db.example/wbs").unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("sslmode=verify-full"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    // Loopback stays allowed in the clear.
    let db = TestDb::new_tls();
    PgStore::open(&db.tcp_url("127.0.0.1"))
        .unwrap()
        .health()
        .unwrap();
}

/// Health says whether the database takes writes, not just whether it
/// answers: an instance left on a read-only database (an old primary back
/// as a standby after a failover) reports itself unhealthy, and none
/// starts on one.
#[test]
fn health_fails_on_a_database_that_takes_no_writes() {
    let db = TestDb::new();
    let store = pg(&db);
    store.health().unwrap();
    let name = db.url().rsplit("dbname=").next().unwrap().to_owned();
    psql(
        &db,
        &format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = on; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
    );
    // The store's connections were cut; the next ones are read-only.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match store.health() {
            Err(e) if e.to_string().contains("takes no writes") => break,
            other => assert!(std::time::Instant::now() < deadline, "still {other:?}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let err = PgStore::open(db.url()).unwrap_err();
    assert!(err.to_string().contains("takes no writes"), "{err}");
}
