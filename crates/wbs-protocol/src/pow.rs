//! The proof-of-work puzzle (PROTOCOL.md §6).
//!
//! The server hands out an opaque challenge string and a difficulty `d`. The
//! client finds a nonce (a decimal `u64`) such that
//! SHA-256(challenge ‖ ":" ‖ nonce) starts with at least `d` zero bits.
//! Difficulty 0 means the server does not ask for work.

use sha2::{Digest, Sha256};

/// Number of leading zero bits of a digest.
pub fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for &b in digest {
        if b == 0 {
            n += 8;
        } else {
            n += b.leading_zeros();
            break;
        }
    }
    n
}

/// Whether `nonce` solves `challenge` at `difficulty`.
pub fn check(challenge: &str, nonce: u64, difficulty: u8) -> bool {
    let mut h = Sha256::new();
    h.update(challenge.as_bytes());
    h.update(b":");
    h.update(nonce.to_string().as_bytes());
    leading_zero_bits(&h.finalize()) >= u32::from(difficulty)
}

/// Finds the smallest solving nonce. Expected work: 2^difficulty hashes.
pub fn solve(challenge: &str, difficulty: u8) -> u64 {
    (0u64..)
        .find(|&n| check(challenge, n, difficulty))
        .expect("a nonce exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solutions_check_and_others_mostly_do_not() {
        let challenge = "test-challenge";
        let nonce = solve(challenge, 12);
        assert!(check(challenge, nonce, 12));
        assert!(!check("other", nonce, 24) || !check(challenge, nonce, 24));
        assert!(check(challenge, 12345, 0));
    }

    #[test]
    fn leading_zero_count() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x10]), 19);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0, 1]), 15);
    }
}
