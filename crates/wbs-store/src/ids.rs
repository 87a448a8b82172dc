//! Random identifiers for cases and blobs, and the checks on them.
//!
//! Ids are drawn from the OS CSPRNG and have nothing to do with a
//! reporter's receipt code or lookup key: knowing a case id tells nothing
//! about the receipt, and the receipt cannot be found from the case id.
//! They use lower-case Crockford base32, so they are safe as file names and
//! in URLs, and cannot contain `/` or `..`.

use rand::{rngs::OsRng, RngCore};

use crate::types::{BlobId, CaseId};

/// Length of a [`CaseId`].
pub const CASE_ID_LEN: usize = 20;

/// Length of a [`BlobId`].
pub const BLOB_ID_LEN: usize = 26;

/// Lower-case Crockford base32: no `i`, `l`, `o`, `u`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `len` random symbols. 256 is a multiple of 32, so masking a random byte
/// to 5 bits gives every symbol with the same probability.
pub(crate) fn random_id(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect()
}

/// A fresh random case id.
pub(crate) fn new_case_id() -> CaseId {
    CaseId::new_unchecked(random_id(CASE_ID_LEN))
}

/// A fresh random blob id.
pub(crate) fn new_blob_id() -> BlobId {
    BlobId::new_unchecked(random_id(BLOB_ID_LEN))
}

fn is_id(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// Whether `s` has the form of a case id.
pub fn is_case_id(s: &str) -> bool {
    is_id(s, CASE_ID_LEN)
}

/// Whether `s` has the form of a blob id. Checked before any blob id is
/// turned into a path, so a forged id can never reach outside `blobs/`.
pub fn is_blob_id(s: &str) -> bool {
    is_id(s, BLOB_ID_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_have_the_documented_shape() {
        for _ in 0..200 {
            let c = new_case_id();
            let b = new_blob_id();
            assert!(is_case_id(&c), "{c}");
            assert!(is_blob_id(&b), "{b}");
            assert!(!c.contains(['i', 'l', 'o', 'u']));
        }
    }

    #[test]
    fn ids_are_random() {
        let a: std::collections::HashSet<_> = (0..1000).map(|_| new_case_id()).collect();
        assert_eq!(a.len(), 1000);
        // Every symbol of the alphabet shows up: no bias towards a subset.
        let all: String = a.iter().map(|c| c.as_str()).collect();
        for &sym in ALPHABET {
            assert!(
                all.contains(sym as char),
                "symbol {} never drawn",
                sym as char
            );
        }
    }

    #[test]
    fn path_tricks_and_wrong_alphabets_are_not_ids() {
        assert!(!is_blob_id("../../../../etc/passwd00000"));
        assert!(!is_blob_id("ABCDEFGHJKMNPQRSTVWXYZ0123"));
        assert!(!is_blob_id("0123456789abcdefghjkmnpqri"));
        assert!(!is_blob_id(""));
        assert!(!is_case_id(&new_blob_id()));
        assert!(!is_blob_id(&new_case_id()));
    }
}
