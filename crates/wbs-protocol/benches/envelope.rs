//! age encryption and decryption throughput through wbs-protocol's streaming
//! envelope, at a typical attachment size (1 MiB) and a large one (64 MiB).
//!
//! Both directions stream: the plaintext comes from a reader that never
//! holds the whole object, and the output goes to `io::sink()`, so the
//! figures are the cost of the cryptography and the copy loop, not of the
//! allocator or the disk.

use std::io::{self, Read};
use std::time::Duration;

use age::x25519::Identity;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wbs_protocol::envelope::{decrypt_stream, encrypt_padded};
use wbs_protocol::padding::FILE_PAD;

const SIZES: [(&str, u64); 2] = [("1MiB", 1 << 20), ("64MiB", 64 << 20)];

/// A plaintext source of `len` bytes that holds only 64 KiB.
fn source(len: u64) -> impl Read {
    let block: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 31 % 251) as u8).collect();
    Cycle { block, pos: 0 }.take(len)
}

struct Cycle {
    block: Vec<u8>,
    pos: usize,
}

impl Read for Cycle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.block.len() - self.pos);
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos = (self.pos + n) % self.block.len();
        Ok(n)
    }
}

fn envelope(c: &mut Criterion) {
    let identity = Identity::generate();
    let recipients = [identity.to_public()];
    let mut g = c.benchmark_group("envelope");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    for (name, len) in SIZES {
        g.throughput(Throughput::Bytes(len));
        g.bench_with_input(BenchmarkId::new("encrypt", name), &len, |b, &len| {
            b.iter(|| encrypt_padded(&recipients, source(len), FILE_PAD, io::sink()).unwrap())
        });
        let mut ciphertext = Vec::new();
        encrypt_padded(&recipients, source(len), FILE_PAD, &mut ciphertext).unwrap();
        g.bench_with_input(
            BenchmarkId::new("decrypt", name),
            &ciphertext,
            |b, ciphertext| {
                b.iter(|| {
                    let mut plain = decrypt_stream(&identity, &ciphertext[..]).unwrap();
                    io::copy(&mut plain, &mut io::sink()).unwrap()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);
