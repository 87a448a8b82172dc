//! One object, classic beside post-quantum: sealing and opening a 2 KiB
//! report to one inspectorate key (X25519, then mlkem768x25519), and the
//! reporter's reply identity derived from a receipt code (an X25519 key
//! from a 20-symbol code, an X-Wing key pair from a 28-symbol one). The
//! header sizes are printed once, before the timings.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use wbs_protocol::envelope::{decrypt_document, encrypt_document};
use wbs_protocol::header::{check_object, Stanzas};
use wbs_protocol::keys::{Identity, RecipientKind};
use wbs_protocol::ReceiptCode;

const REPORT: [u8; 2048] = [b'x'; 2048];

fn object(c: &mut Criterion) {
    let mut g = c.benchmark_group("object");
    g.sample_size(20).warm_up_time(Duration::from_secs(1));
    for (name, kind) in [
        ("x25519", RecipientKind::Classic),
        ("mlkem768x25519", RecipientKind::PostQuantum),
    ] {
        let identity = Identity::generate(kind);
        let recipients = [identity.to_public()];
        let sealed = encrypt_document(&recipients, &REPORT).unwrap();
        let header = check_object(&sealed, Stanzas::exactly(1).of(kind)).unwrap();
        eprintln!("object/{name}: a 2 KiB report to one key has a {header}-byte age header");
        g.bench_function(format!("seal/{name}"), |b| {
            b.iter(|| encrypt_document(&recipients, &REPORT).unwrap())
        });
        g.bench_function(format!("open/{name}"), |b| {
            b.iter(|| decrypt_document(&identity, &sealed, 1 << 20).unwrap())
        });
    }
    g.finish();
}

fn reply_identity(c: &mut Criterion) {
    let mut g = c.benchmark_group("reply_identity");
    g.sample_size(20).warm_up_time(Duration::from_secs(1));
    let short = ReceiptCode::generate();
    let long = ReceiptCode::generate_long();
    g.bench_function("x25519", |b| b.iter(|| short.reply_recipient()));
    g.bench_function("mlkem768x25519", |b| b.iter(|| long.reply_pq_recipient()));
    g.finish();
}

criterion_group!(benches, object, reply_identity);
criterion_main!(benches);
