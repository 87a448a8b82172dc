//! Receipt codes and PADMÉ: what a reporter's device and the status route
//! compute on every request.
//!
//! - `parse`: reading a typed code back (forgiving parse and check value).
//! - `lookup`: HKDF-SHA256 of the canonical code, then the SHA-256 the
//!   server stores.
//! - `reply_recipient`: HKDF, the Bech32 round trip age needs, and one
//!   X25519 base-point multiplication.
//! - `padme`: the padded length of an object.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use wbs_protocol::padding::padme;
use wbs_protocol::ReceiptCode;

fn receipt(c: &mut Criterion) {
    let code = ReceiptCode::generate();
    let typed = code.display_grouped().to_lowercase();
    let mut g = c.benchmark_group("receipt");
    g.bench_function("parse", |b| {
        b.iter(|| ReceiptCode::parse(black_box(&typed)).unwrap())
    });
    g.bench_function("lookup", |b| {
        b.iter(|| black_box(&code).lookup_key().hash())
    });
    g.bench_function("reply_recipient", |b| {
        b.iter(|| black_box(&code).reply_recipient())
    });
    g.finish();
}

fn padding(c: &mut Criterion) {
    // A spread of sizes, so the branch predictor cannot learn one answer.
    let lengths: Vec<u64> = (0..64).map(|i| (1u64 << (i % 40)) + i * 7919).collect();
    c.bench_function("padme/64_lengths", |b| {
        b.iter(|| {
            black_box(&lengths)
                .iter()
                .fold(0u64, |acc, &l| acc ^ padme(l))
        })
    });
}

criterion_group!(benches, receipt, padding);
criterion_main!(benches);
