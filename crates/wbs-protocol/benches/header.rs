//! The structural check the server runs on the first bytes of every upload
//! (`check_header`), for one and for three recipients, and the whole-object
//! form used on reply bundles (`check_object`).

use std::hint::black_box;

use age::x25519::Identity;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use wbs_protocol::envelope::encrypt_document;
use wbs_protocol::header::{check_header, check_object};

fn header(c: &mut Criterion) {
    let mut g = c.benchmark_group("header");
    for n in [1usize, 3] {
        let recipients: Vec<_> = (0..n).map(|_| Identity::generate().to_public()).collect();
        let object = encrypt_document(&recipients, &[b'x'; 2048]).unwrap();
        g.bench_with_input(BenchmarkId::new("check_header", n), &object, |b, o| {
            b.iter(|| check_header(black_box(o), n).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("check_object", n), &object, |b, o| {
            b.iter(|| check_object(black_box(o), n).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, header);
criterion_main!(benches);
