//! Receipt codes and the keys derived from them (PROTOCOL.md §2).
//!
//! A receipt code is 20 Crockford base32 symbols: 18 random ones (90 bits)
//! followed by two check symbols, the first 10 bits of SHA-256 over the 18
//! data symbols. In a post-quantum deployment it is 28 symbols: 26 random
//! ones (130 bits, against a quantum search of the lookup hashes,
//! THREAT_MODEL.md) and two check symbols by the same rule. Both lengths
//! parse everywhere. It is generated on the reporter's device and never
//! sent: the server only ever sees the derived lookup key and the reply
//! recipient.

use std::str::FromStr;

use hkdf::Hkdf;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The Crockford base32 alphabet used for receipt codes.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Number of symbols in a canonical receipt code.
pub const CODE_LEN: usize = 20;
/// Number of random (data) symbols.
pub const DATA_LEN: usize = 18;
/// Number of symbols in a long receipt code (post-quantum deployments).
pub const LONG_CODE_LEN: usize = 28;
/// Number of random (data) symbols of a long code.
pub const LONG_DATA_LEN: usize = 26;
/// Number of check symbols, whatever the length.
pub const CHECK_LEN: usize = 2;
/// HKDF salt for every receipt derivation.
pub const HKDF_SALT: &[u8] = b"wbs-receipt-v1";
/// HKDF info for the lookup key.
pub const INFO_LOOKUP: &[u8] = b"lookup";
/// HKDF info for the reply X25519 secret.
pub const INFO_REPLY: &[u8] = b"reply-x25519";
/// HKDF info for the post-quantum reply identity's X-Wing seed.
pub const INFO_REPLY_PQ: &[u8] = b"reply-mlkem768x25519";
/// HKDF info for the thread key that authenticates follow-ups and replies
/// (PROTOCOL.md §4.4).
pub const INFO_THREAD: &[u8] = b"thread-hmac";

/// Why a string is not a receipt code. The messages never repeat the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The code has the wrong number of symbols once spaces and dashes are
    /// removed: neither 20 nor 28.
    #[error("a receipt code has 20 or 28 symbols, this one has {found}")]
    Length {
        /// Symbols found.
        found: usize,
    },
    /// A character that is not a base32 symbol, a space or a dash.
    #[error("symbol {position} of the receipt code is not a valid character")]
    InvalidSymbol {
        /// 1-based position among the symbols.
        position: usize,
    },
    /// The check symbols do not match: most likely a typo.
    #[error("the receipt code does not check out: probably a typo")]
    Checksum,
}

/// A receipt code, canonical form (20 or 28 upper-case symbols, no dashes).
///
/// It is a secret: it does not implement `Debug`, and its bytes are zeroized
/// when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ReceiptCode {
    canonical: [u8; LONG_CODE_LEN],
    len: usize,
}

/// The lookup key: what the server sees instead of the receipt code.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LookupKey([u8; 32]);

fn symbol_value(c: u8) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u8)
}

fn check_symbols(data: &[u8]) -> [u8; 2] {
    let digest = Sha256::digest(data);
    let bits = (u16::from(digest[0]) << 2) | (u16::from(digest[1]) >> 6);
    [
        ALPHABET[((bits >> 5) & 0x1f) as usize],
        ALPHABET[(bits & 0x1f) as usize],
    ]
}

impl ReceiptCode {
    /// Generates a fresh 20-symbol code (classic deployments) from the
    /// operating system's CSPRNG.
    pub fn generate() -> Self {
        Self::generate_with(CODE_LEN)
    }

    /// Generates a fresh 28-symbol code (post-quantum deployments).
    pub fn generate_long() -> Self {
        Self::generate_with(LONG_CODE_LEN)
    }

    /// The code a deployment gives its reporters: long when its
    /// recipients are post-quantum.
    pub fn generate_for(post_quantum: bool) -> Self {
        if post_quantum {
            Self::generate_long()
        } else {
            Self::generate()
        }
    }

    fn generate_with(len: usize) -> Self {
        let data_len = len - CHECK_LEN;
        let mut random = Zeroizing::new([0u8; LONG_DATA_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut random[..data_len]);
        let mut code = ReceiptCode {
            canonical: [0u8; LONG_CODE_LEN],
            len,
        };
        for (slot, byte) in code.canonical[..data_len].iter_mut().zip(random.iter()) {
            // 32 divides 256, so the low five bits are uniform.
            *slot = ALPHABET[(byte & 0x1f) as usize];
        }
        let check = check_symbols(&code.canonical[..data_len]);
        code.canonical[data_len..len].copy_from_slice(&check);
        code
    }

    /// Whether this is a long (28-symbol) code.
    pub fn is_long(&self) -> bool {
        self.len == LONG_CODE_LEN
    }

    /// Parses a code the forgiving way: case-insensitive, spaces and dashes
    /// ignored, `O` read as `0`, `I` and `L` as `1`.
    pub fn parse(input: &str) -> Result<Self, ReceiptError> {
        // Zeroized on every return path, early ones included.
        let mut canonical = Zeroizing::new([0u8; LONG_CODE_LEN]);
        let mut n = 0usize;
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            n += 1;
            let value = u8::try_from(c)
                .ok()
                .and_then(symbol_value)
                .ok_or(ReceiptError::InvalidSymbol { position: n })?;
            if n <= LONG_CODE_LEN {
                canonical[n - 1] = ALPHABET[value as usize];
            }
        }
        if n != CODE_LEN && n != LONG_CODE_LEN {
            return Err(ReceiptError::Length { found: n });
        }
        let code = ReceiptCode {
            canonical: *canonical,
            len: n,
        };
        let data_len = n - CHECK_LEN;
        if check_symbols(&code.canonical[..data_len]) != code.canonical[data_len..n] {
            return Err(ReceiptError::Checksum);
        }
        Ok(code)
    }

    /// The canonical form: 20 or 28 upper-case symbols without dashes.
    pub fn canonical(&self) -> &str {
        std::str::from_utf8(&self.canonical[..self.len]).expect("alphabet is ASCII")
    }

    /// The form shown to people: four groups of five,
    /// `XXXXX-XXXXX-XXXXX-XXXXX`, or for a long code seven groups of four,
    /// `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`.
    pub fn display_grouped(&self) -> Zeroizing<String> {
        let group = if self.is_long() { 4 } else { 5 };
        let mut out = Zeroizing::new(String::with_capacity(LONG_CODE_LEN + 6));
        for (i, chunk) in self.canonical[..self.len].chunks(group).enumerate() {
            if i > 0 {
                out.push('-');
            }
            out.push_str(std::str::from_utf8(chunk).expect("ASCII"));
        }
        out
    }

    fn hkdf(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        // The canonical code, whatever its length, is the IKM.
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), &self.canonical[..self.len]);
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand(info, &mut okm[..])
            .expect("32 bytes is a valid HKDF-SHA256 length");
        okm
    }

    /// The lookup key, HKDF(info `lookup`).
    pub fn lookup_key(&self) -> LookupKey {
        LookupKey(*self.hkdf(INFO_LOOKUP))
    }

    /// The reporter's reply identity, HKDF(info `reply-x25519`) used as an
    /// X25519 secret.
    pub fn reply_identity(&self) -> age::x25519::Identity {
        let secret = self.hkdf(INFO_REPLY);
        crate::envelope::identity_from_secret_bytes(&secret)
    }

    /// The case's thread key, HKDF(info `thread-hmac`): shared with the
    /// inspectorate inside the encrypted report, never sent to the server.
    pub fn thread_key(&self) -> crate::thread::ThreadKey {
        crate::thread::ThreadKey::from_bytes(*self.hkdf(INFO_THREAD))
    }

    /// The public half of [`Self::reply_identity`], as an age recipient.
    pub fn reply_recipient(&self) -> age::x25519::Recipient {
        self.reply_identity().to_public()
    }

    /// The reporter's post-quantum reply identity (PROTOCOL.md §2.1):
    /// HKDF(info `reply-mlkem768x25519`) used as an X-Wing seed.
    pub fn reply_pq_identity(&self) -> crate::pq::Identity {
        let seed = self.hkdf(INFO_REPLY_PQ);
        crate::pq::Identity::from_seed(&seed)
    }

    /// The public half of [`Self::reply_pq_identity`], `age1pq1…`.
    pub fn reply_pq_recipient(&self) -> crate::pq::Recipient {
        self.reply_pq_identity().to_public()
    }

    /// The reply identity of this code's case: post-quantum for a long
    /// code, X25519 for a short one. Clients make long codes exactly in
    /// post-quantum deployments, so the length says which reply recipient
    /// was sent with the report (PROTOCOL.md §2.1), even for a case from
    /// before a deployment moved to post-quantum.
    pub fn case_reply_identity(&self) -> crate::keys::Identity {
        if self.is_long() {
            crate::keys::Identity::PostQuantum(Box::new(self.reply_pq_identity()))
        } else {
            crate::keys::Identity::X25519(self.reply_identity())
        }
    }

    /// The public half of [`Self::case_reply_identity`]: the reply
    /// recipient sent with the report, which also names the case in the
    /// thread's authenticators (§4.4).
    pub fn case_reply_recipient(&self) -> String {
        self.reply_recipient_for(self.is_long())
    }

    /// The reply recipient of either kind.
    pub fn reply_recipient_for(&self, post_quantum: bool) -> String {
        if post_quantum {
            self.reply_pq_recipient().to_string()
        } else {
            self.reply_recipient().to_string()
        }
    }
}

impl FromStr for ReceiptCode {
    type Err = ReceiptError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl PartialEq for ReceiptCode {
    fn eq(&self, other: &Self) -> bool {
        use subtle_eq::ct_eq;
        self.len == other.len && ct_eq(&self.canonical, &other.canonical)
    }
}
impl Eq for ReceiptCode {}

mod subtle_eq {
    /// Constant-time comparison of equal-length byte strings.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl LookupKey {
    /// Wraps raw bytes (for instance decoded from a request).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        LookupKey(bytes)
    }

    /// Parses the wire form: base64url without padding, 32 bytes.
    pub fn from_base64url(s: &str) -> Option<Self> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let bytes = Zeroizing::new(bytes);
        let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(LookupKey(arr))
    }

    /// The wire form: base64url without padding.
    pub fn to_base64url(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }

    /// SHA-256 of the key: the only form the server stores.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse_back() {
        for _ in 0..200 {
            let code = ReceiptCode::generate();
            let again = ReceiptCode::parse(&code.display_grouped()).unwrap();
            assert!(code == again);
            assert_eq!(code.canonical().len(), CODE_LEN);
        }
    }

    #[test]
    fn forgiving_parse_accepts_lowercase_spaces_and_lookalikes() {
        let code = ReceiptCode::generate();
        let messy: String = code
            .canonical()
            .chars()
            .map(|c| match c {
                '0' => 'o',
                '1' => 'l',
                other => other.to_ascii_lowercase(),
            })
            .collect();
        let spaced = format!(" {} - {} ", &messy[..7], &messy[7..]);
        assert!(ReceiptCode::parse(&spaced).unwrap() == code);
    }

    #[test]
    fn every_single_symbol_typo_is_caught_or_harmless() {
        let code = ReceiptCode::generate();
        let canonical = code.canonical().to_string();
        let mut caught = 0;
        let mut total = 0;
        for pos in 0..CODE_LEN {
            for &sym in ALPHABET.iter() {
                if canonical.as_bytes()[pos] == sym {
                    continue;
                }
                let mut typo = canonical.clone().into_bytes();
                typo[pos] = sym;
                total += 1;
                if ReceiptCode::parse(std::str::from_utf8(&typo).unwrap()).is_err() {
                    caught += 1;
                }
            }
        }
        // 10 check bits miss about one typo in 1024.
        assert!(caught * 100 >= total * 99, "caught {caught} of {total}");
    }

    #[test]
    fn wrong_length_and_bad_symbols_are_refused() {
        assert_eq!(
            ReceiptCode::parse("ABCDE-FGHJK").err(),
            Some(ReceiptError::Length { found: 10 })
        );
        let msg = ReceiptCode::parse("ABCDE-FGHJK").err().unwrap().to_string();
        assert!(msg.contains("20 or 28"), "{msg}");
        // Between the two lengths, and past the long one.
        let long = ReceiptCode::generate_long();
        for n in [21, 24, 27, 29] {
            let text: String = long.canonical().chars().cycle().take(n).collect();
            assert_eq!(
                ReceiptCode::parse(&text).err(),
                Some(ReceiptError::Length { found: n })
            );
        }
        assert_eq!(
            ReceiptCode::parse("ABCDE-FGHJK-MNPQR-STVWU").err(),
            Some(ReceiptError::InvalidSymbol { position: 20 })
        );
        assert_eq!(
            ReceiptCode::parse("ABCDÉ").err(),
            Some(ReceiptError::InvalidSymbol { position: 5 })
        );
    }

    #[test]
    fn error_messages_do_not_repeat_the_code() {
        let code = ReceiptCode::generate();
        let mut typo = code.canonical().to_string();
        typo.push('X');
        let msg = ReceiptCode::parse(&typo).err().unwrap().to_string();
        assert!(!msg.contains(&typo[..10]));
    }

    #[test]
    fn lookup_key_round_trips_through_base64url() {
        let code = ReceiptCode::generate();
        let key = code.lookup_key();
        let wire = key.to_base64url();
        assert_eq!(wire.len(), 43);
        let back = LookupKey::from_base64url(&wire).unwrap();
        assert_eq!(back.hash(), key.hash());
        assert!(LookupKey::from_base64url("short").is_none());
        assert!(LookupKey::from_base64url(&format!("{wire}A")).is_none());
    }

    #[test]
    fn long_codes_generate_check_and_group_by_four() {
        for _ in 0..200 {
            let code = ReceiptCode::generate_long();
            assert!(code.is_long());
            assert_eq!(code.canonical().len(), LONG_CODE_LEN);
            let grouped = code.display_grouped();
            assert_eq!(grouped.len(), LONG_CODE_LEN + 6);
            assert!(grouped.split('-').all(|g| g.len() == 4));
            assert!(ReceiptCode::parse(&grouped).unwrap() == code);
        }
        // A typo in a data symbol of a long code is caught like a short one's.
        let code = ReceiptCode::generate_long();
        let mut typo = code.canonical().as_bytes().to_vec();
        let mut caught = 0;
        let original = typo[25];
        for sym in ALPHABET.iter().filter(|&&s| s != original) {
            typo[25] = *sym;
            caught += usize::from(ReceiptCode::parse(std::str::from_utf8(&typo).unwrap()).is_err());
        }
        assert!(caught >= 30, "caught {caught} of 31");
        // The 20 first symbols of a long code are not a short code of it.
        assert!(!ReceiptCode::generate_for(false).is_long());
        assert!(ReceiptCode::generate_for(true).is_long());
    }

    #[test]
    fn the_pq_reply_identity_is_its_own_derivation() {
        let code = ReceiptCode::generate_long();
        let pq = code.reply_pq_recipient().to_string();
        assert!(pq.starts_with("age1pq1"));
        assert_eq!(code.reply_recipient_for(true), pq);
        assert!(code.reply_recipient_for(false).starts_with("age1"));
        assert!(!code.reply_recipient_for(false).starts_with("age1pq1"));
        // Deterministic.
        let again = ReceiptCode::parse(code.canonical()).unwrap();
        assert_eq!(again.reply_pq_recipient().to_string(), pq);
    }

    #[test]
    fn derivations_differ_per_code() {
        let a = ReceiptCode::generate();
        let b = ReceiptCode::generate();
        assert_ne!(a.lookup_key().hash(), b.lookup_key().hash());
        assert_ne!(
            a.reply_recipient().to_string(),
            b.reply_recipient().to_string()
        );
    }
}
