//! PADMÉ padding (PROTOCOL.md §3.1): hides the exact size of every encrypted
//! object while costing at most about 12% (the bound is 1/(2·S), S ≥ 5 for
//! anything over 256 bytes).
//!
//! For a length L ≥ 2: E = ⌊log2 L⌋, S = ⌊log2 E⌋ + 1, mask = 2^(E−S) − 1,
//! padded = (L + mask) & !mask. Lengths 0 and 1 are left as they are.

/// The padded length of an object of `len` bytes.
pub fn padme(len: u64) -> u64 {
    if len < 2 {
        return len;
    }
    let e = 63 - u64::from(len.leading_zeros());
    let s = (63 - u64::from(e.leading_zeros())) + 1;
    let last_bits = e - s;
    let mask = (1u64 << last_bits) - 1;
    len.checked_add(mask).map_or(!mask, |v| v & !mask)
}

/// The padding byte for JSON documents: an ASCII space, which every JSON
/// parser accepts as trailing white space.
pub const JSON_PAD: u8 = b' ';
/// The padding byte for attachments: zero. Their real size is in the report.
pub const FILE_PAD: u8 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lengths_are_unchanged() {
        for len in 0..=8 {
            assert_eq!(padme(len), len);
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(padme(9), 10);
        assert_eq!(padme(100), 104);
        assert_eq!(padme(1000), 1024);
        assert_eq!(padme(1025), 1088);
        assert_eq!(padme(1_000_000), 1_015_808);
    }

    #[test]
    fn padded_is_never_smaller_and_overhead_is_bounded() {
        let mut len = 2u64;
        while len < (1 << 40) {
            for l in [len, len + 1, len * 3 / 2, len * 2 - 1] {
                let p = padme(l);
                assert!(p >= l);
                // Overhead ≤ 12% for anything but tiny objects.
                if l >= 256 {
                    assert!((p - l) * 100 <= l * 12, "{l} -> {p}");
                }
            }
            len *= 2;
        }
    }

    #[test]
    fn padding_is_idempotent_and_monotonic() {
        let mut prev = 0;
        for l in 0..20_000u64 {
            let p = padme(l);
            assert_eq!(padme(p), p);
            assert!(p >= prev);
            prev = p;
        }
    }
}
