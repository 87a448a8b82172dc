//! The investigators' second factor: TOTP (RFC 6238) and the desk login
//! check that both the desk pages and the bearer API use.
//!
//! # The code
//!
//! HMAC-SHA1, 30-second steps, 6 digits, as every authenticator app does
//! by default. A code is accepted for its own step and one step either
//! side (clock drift, slow typing), and each code at most once: the store
//! remembers, per token, the last time step accepted and only accepts a
//! later one ([`Store::accept_totp_step`]), in one durable transaction, so
//! a replayed code is refused also after a restart, and two racing logins
//! with the same code cannot both win. A consequence worth knowing: after
//! logging in with the code of step *n*, the next login needs a code of
//! step *n + 1* or later (up to 30 seconds of waiting).
//!
//! # The secret at rest
//!
//! A TOTP secret cannot be hashed: the server must compute codes from it.
//! It can be kept so that the store alone is not enough, though: the
//! 20-byte secret is sealed with ChaCha20-Poly1305 under a key derived with
//! HKDF-SHA256 from the investigator's bearer token (the token string as
//! presented, `wbs_…`, info `wbs-totp-secret`). The store keeps only
//! SHA-256 of the token and this ciphertext, so a copy of the store (or of
//! a backup) cannot compute codes; at login the investigator presents the
//! token, which opens the secret for that one check. The secret, the key
//! and the token are zeroized after use and never logged. The flip side:
//! re-enrolling a token needs the token itself (`wbs-server token totp`).
//!
//! # The rule
//!
//! - a token with TOTP enrolled needs a valid code, on the pages and on
//!   the bearer API (otherwise the API would be a way around the second
//!   factor);
//! - a token without TOTP logs in with the token alone, unless the
//!   operator set `require_totp = true` in the `[desk]` section: then it
//!   cannot log in at all until it is enrolled.
//!
//! Each failure has its own [`LoginError`] variant for the log and for
//! attempt budgets; what a client is told is decided by the HTTP layer
//! (the pages answer every failure the same; the API says
//! `totp_required` when a code is missing, so `wbs-desk` knows to ask for
//! one).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wbs_store::{Store, StoreError};
use zeroize::Zeroizing;

/// Seconds per TOTP time step.
pub const STEP_SECS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: u64 = 1;
/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation for SHA-1).
pub const SECRET_LEN: usize = 20;
/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "WBS";

/// HKDF `info` of the key that seals a token's TOTP secret.
const SEAL_INFO: &[u8] = b"wbs-totp-secret";
/// Associated data of the sealed secret (its format version).
const SEAL_AAD: &[u8] = b"wbs-totp-v1";
const NONCE_LEN: usize = 12;
/// Length of a sealed secret: nonce, ciphertext, Poly1305 tag.
pub const SEALED_LEN: usize = NONCE_LEN + SECRET_LEN + 16;

/// A TOTP secret; zeroized when dropped, never printed by `Debug`.
pub struct TotpSecret(Zeroizing<[u8; SECRET_LEN]>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A new random secret from the operating system's generator.
    pub fn generate() -> TotpSecret {
        let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
        TotpSecret(bytes)
    }

    /// A secret from its bytes (for tests and the RFC vectors).
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> TotpSecret {
        TotpSecret(Zeroizing::new(bytes))
    }

    /// The code for `unix` seconds.
    pub fn code_at(&self, unix: u64) -> String {
        let value = hotp(&self.0[..], unix / STEP_SECS, DIGITS);
        format!("{value:0width$}", width = DIGITS as usize)
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps
    /// take it. Secret: zeroized when dropped.
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32(&self.0[..]))
    }

    /// The `otpauth://` enrolment URI for token `name`. It holds the
    /// secret: show it to the investigator only, never log it.
    pub fn otpauth_uri(&self, name: &str) -> Zeroizing<String> {
        let label = percent_encode(&format!("{ISSUER}:{name}"));
        Zeroizing::new(format!(
            "otpauth://totp/{label}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            base32(&self.0[..])
        ))
    }

    /// The step a well-formed `code` is valid for at `now` (± [`SKEW_STEPS`]),
    /// the latest if several are; `None` if none. Every candidate is
    /// compared in constant time.
    pub fn matching_step(&self, code: &Code, now: u64) -> Option<u64> {
        let current = now / STEP_SECS;
        let mut found = None;
        for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
            let expect = format!(
                "{:0width$}",
                hotp(&self.0[..], step, DIGITS),
                width = DIGITS as usize
            );
            if bool::from(expect.as_bytes().ct_eq(code.0.as_bytes())) {
                found = Some(step);
            }
        }
        found
    }

    /// Seals the secret under `token` (see the module doc).
    pub fn seal(&self, token: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher(token)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &self.0[..],
                    aad: SEAL_AAD,
                },
            )
            .expect("ChaCha20-Poly1305 encryption of 20 bytes cannot fail");
        let mut out = Vec::with_capacity(SEALED_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a secret sealed under `token`; `None` if it was sealed under
    /// another token or is damaged.
    pub fn open(token: &str, sealed: &[u8]) -> Option<TotpSecret> {
        if sealed.len() != SEALED_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plain = Zeroizing::new(
            cipher(token)
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: SEAL_AAD,
                    },
                )
                .ok()?,
        );
        let mut bytes = Zeroizing::new([0u8; SECRET_LEN]);
        bytes.copy_from_slice(&plain);
        Some(TotpSecret(bytes))
    }
}

/// The cipher sealing secrets under `token`.
fn cipher(token: &str) -> ChaCha20Poly1305 {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, token.as_bytes())
        .expand(SEAL_INFO, &mut key[..])
        .expect("32 bytes is a valid HKDF-SHA256 length");
    ChaCha20Poly1305::new(Key::from_slice(&key[..]))
}

/// HOTP (RFC 4226) with HMAC-SHA1: the `digits`-digit value for `counter`.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac =
        <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(&counter.to_be_bytes());
    let digest = Zeroizing::new(mac.finalize().into_bytes());
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    value % 10u32.pow(digits)
}

/// A code as typed: exactly [`DIGITS`] ASCII digits, after removing spaces
/// (apps show `123 456`). Anything else is malformed.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(..)")
    }
}

impl Code {
    /// Parses a code; `None` if it is not six digits.
    pub fn parse(text: &str) -> Option<Code> {
        let digits: String = text.chars().filter(|c| *c != ' ').collect();
        (digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(Code(digits))
    }
}

/// RFC 4648 base32, upper case, no padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Percent-encodes everything but unreserved characters (and `:`, which
/// the otpauth label uses as the issuer separator).
fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOk {
    /// The token's name (the actor in the audit log).
    pub name: String,
    /// Whether the token has TOTP enrolled (and a code was checked).
    pub totp_enrolled: bool,
}

/// Why a login failed. For logs and attempt budgets only: the desk pages
/// answer every variant the same way, and never log the token or code.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// No token hashes to what was presented (or it is malformed).
    #[error("unknown token")]
    UnknownToken,
    /// The token has TOTP enrolled and no code came with it.
    #[error("a TOTP code is required for this token")]
    TotpRequired,
    /// `require_totp` is set and this token has no TOTP enrolled.
    #[error("this server requires TOTP and the token has none enrolled")]
    TotpNotEnrolled,
    /// The code is malformed or not valid for the current time.
    #[error("wrong TOTP code")]
    TotpWrong,
    /// The code is valid but its time step was already used (a replay),
    /// or an earlier step than one already used.
    #[error("TOTP code already used")]
    TotpReplayed,
    /// The store failed, or a sealed secret does not open under its own
    /// token (damage): an operator matter.
    #[error("storage: {0}")]
    Store(String),
}

impl LoginError {
    /// Whether the token was right and its second factor was not (a wrong
    /// or replayed code): what per-token attempt budgets count.
    pub fn is_wrong_second_factor(&self) -> bool {
        matches!(self, LoginError::TotpWrong | LoginError::TotpReplayed)
    }
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Store(e.to_string())
    }
}

/// Checks a desk login: `token` as presented (`wbs_…`), the TOTP `code` if
/// one was given, at `now_unix` seconds, under the operator's
/// `require_totp` setting (`Settings::desk.require_totp`).
///
/// - unknown token → [`LoginError::UnknownToken`];
/// - token with TOTP: no code → [`LoginError::TotpRequired`]; a malformed
///   or wrong code → [`LoginError::TotpWrong`]; a code whose step is not
///   after the last accepted one → [`LoginError::TotpReplayed`]; a good
///   code is *spent* (its step recorded durably) and the login succeeds;
/// - token without TOTP: succeeds with `totp_enrolled: false`, unless
///   `require_totp` → [`LoginError::TotpNotEnrolled`]; a code sent along
///   is ignored.
///
/// Blocking (store I/O): call it from `spawn_blocking` /
/// `AppState::with_store`. It logs nothing; callers log the variant only
/// (never the token or the code) and count failures against their
/// attempt budget *before* calling it again. Each call with a correct code
/// uses that code up, so call it once per login or request.
pub fn check_login(
    store: &dyn Store,
    require_totp: bool,
    token: &str,
    code: Option<&str>,
    now_unix: u64,
) -> Result<LoginOk, LoginError> {
    if token.is_empty() || token.len() > 256 {
        return Err(LoginError::UnknownToken);
    }
    // Looked up by hash: an attacker could only time hashes they cannot steer.
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let auth = store.token_auth(&hash)?.ok_or(LoginError::UnknownToken)?;
    let Some(totp) = auth.totp else {
        if require_totp {
            return Err(LoginError::TotpNotEnrolled);
        }
        return Ok(LoginOk {
            name: auth.name.to_string(),
            totp_enrolled: false,
        });
    };
    let code = code.ok_or(LoginError::TotpRequired)?;
    let code = Code::parse(code).ok_or(LoginError::TotpWrong)?;
    let secret = TotpSecret::open(token, &totp.sealed).ok_or_else(|| {
        LoginError::Store(format!(
            "the TOTP secret of token {:?} does not open under its own token; re-enrol it",
            auth.name
        ))
    })?;
    let step = secret
        .matching_step(&code, now_unix)
        .ok_or(LoginError::TotpWrong)?;
    if step <= totp.last_step {
        return Err(LoginError::TotpReplayed);
    }
    match store.accept_totp_step(&hash, step) {
        Ok(true) => Ok(LoginOk {
            name: auth.name.to_string(),
            totp_enrolled: true,
        }),
        // A concurrent login took this step first.
        Ok(false) => Err(LoginError::TotpReplayed),
        // Revoked or un-enrolled in between.
        Err(StoreError::NotFound) => Err(LoginError::UnknownToken),
        Err(e) => Err(e.into()),
    }
}

/// The TOTP code sent with a bearer API request ([`TOTP_HEADER`]), if any.
/// Pass it to [`check_login`] as `code`.
///
/// [`TOTP_HEADER`]: wbs_protocol::api::TOTP_HEADER
pub fn bearer_code(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(wbs_protocol::api::TOTP_HEADER)
        .and_then(|v| v.to_str().ok())
}

/// How the bearer API answers a failed [`check_login`], all 401 except a
/// storage failure:
///
/// - unknown token: `unauthorized`, as before TOTP;
/// - `totp_required`: the token has TOTP and no code came in
///   `X-Wbs-Totp` (so `wbs-desk` knows to ask for one);
/// - `totp_not_enrolled`: the operator requires TOTP and this token has
///   none; the message says how to enrol;
/// - `totp_wrong`: a wrong, malformed or already used code (one answer for
///   all three).
///
/// Only a holder of a valid token can tell `totp_*` from `unauthorized`.
/// Wrong codes must be counted against the token name's login budget
/// (as the desk pages do) before this is answered, so that a stolen token
/// cannot be used to guess codes.
pub fn bearer_error(e: &LoginError) -> crate::error::ApiError {
    use crate::error::ApiError;
    use axum::http::StatusCode;
    let refused = |code, message: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    match e {
        LoginError::UnknownToken => ApiError::unauthorized(),
        LoginError::TotpRequired => refused(
            "totp_required",
            "this token has a TOTP second factor: send the current six-digit code in the \
             X-Wbs-Totp header (wbs-desk asks for it, or takes --totp-code or WBS_TOTP_CODE)",
        ),
        LoginError::TotpNotEnrolled => refused(
            "totp_not_enrolled",
            "this server requires a TOTP second factor and this token has none: ask the \
             operator to enrol it (wbs-server token totp NAME)",
        ),
        LoginError::TotpWrong | LoginError::TotpReplayed => refused(
            "totp_wrong",
            "the TOTP code is wrong or was already used; wait for the next code and try again",
        ),
        LoginError::Store(detail) => ApiError::internal(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wbs_store::{MetaStore, SledStore, TokenName};

    fn name(s: &str) -> TokenName {
        TokenName::parse(s).unwrap()
    }

    const RFC_SEED: &[u8; 20] = b"12345678901234567890";

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        // RFC 6238 Appendix B, SHA1 column (8 digits); a 6-digit code is
        // the same value mod 10^6, i.e. its last 6 digits.
        let vectors: [(u64, &str); 6] = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        for (t, eight) in vectors {
            assert_eq!(
                format!("{:08}", hotp(RFC_SEED, t / STEP_SECS, 8)),
                eight,
                "T={t}"
            );
            assert_eq!(secret.code_at(t), eight[2..], "T={t}");
        }
    }

    #[test]
    fn the_api_tells_a_missing_code_from_a_wrong_one_but_not_a_replay() {
        let code = |e| bearer_error(&e).code;
        assert_eq!(code(LoginError::UnknownToken), "unauthorized");
        assert_eq!(code(LoginError::TotpRequired), "totp_required");
        assert_eq!(code(LoginError::TotpNotEnrolled), "totp_not_enrolled");
        assert_eq!(code(LoginError::TotpWrong), "totp_wrong");
        assert_eq!(code(LoginError::TotpReplayed), "totp_wrong");
        for e in [
            LoginError::UnknownToken,
            LoginError::TotpRequired,
            LoginError::TotpNotEnrolled,
            LoginError::TotpWrong,
        ] {
            assert_eq!(bearer_error(&e).status, 401);
        }
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(bearer_code(&headers), None);
        headers.insert("x-wbs-totp", "123456".parse().unwrap());
        assert_eq!(bearer_code(&headers), Some("123456"));
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        let expect = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, value) in expect.into_iter().enumerate() {
            assert_eq!(hotp(RFC_SEED, counter as u64, 6), value);
        }
    }

    #[test]
    fn codes_match_one_step_either_side_only() {
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        let now = 1_234_567_890;
        let step = now / STEP_SECS;
        for (delta, ok) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let at = (now as i64 + delta * STEP_SECS as i64) as u64;
            let code = Code::parse(&secret.code_at(at)).unwrap();
            let want = ok.then(|| (step as i64 + delta) as u64);
            assert_eq!(secret.matching_step(&code, now), want, "delta {delta}");
        }
    }

    #[test]
    fn only_six_digits_are_a_code() {
        assert!(Code::parse("123456").is_some());
        assert_eq!(Code::parse("123 456"), Code::parse("123456"));
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            "-12345",
            "123\n456",
        ] {
            assert!(Code::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn base32_and_uri_follow_rfc4648_and_the_key_uri_format() {
        // RFC 4648 §10 test vectors (without padding).
        for (plain, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(plain.as_bytes()), enc);
        }
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        assert_eq!(*secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            *secret.otpauth_uri("siti.r@desk-1"),
            "otpauth://totp/WBS:siti.r%40desk-1?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=WBS&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{secret:?}"), "TotpSecret(..)");
    }

    #[test]
    fn sealed_secrets_open_only_under_their_token() {
        let secret = TotpSecret::from_bytes(*RFC_SEED);
        let sealed = secret.seal("wbs_token-a");
        assert_eq!(sealed.len(), SEALED_LEN);
        assert!(!sealed.windows(RFC_SEED.len()).any(|w| w == RFC_SEED));
        let opened = TotpSecret::open("wbs_token-a", &sealed).unwrap();
        assert_eq!(opened.code_at(59), secret.code_at(59));
        assert!(TotpSecret::open("wbs_token-b", &sealed).is_none());
        let mut damaged = sealed.clone();
        damaged[20] ^= 1;
        assert!(TotpSecret::open("wbs_token-a", &damaged).is_none());
        assert!(TotpSecret::open("wbs_token-a", &sealed[1..]).is_none());
        // A new nonce every time.
        assert_ne!(secret.seal("wbs_token-a"), sealed);
    }

    fn store_with(dir: &std::path::Path) -> (SledStore, String, String, TotpSecret) {
        let store = SledStore::create_or_open(&dir.join("data")).unwrap();
        let (plain, plain_hash) = crate::tokens::new_token();
        store.add_token(&name("plain"), plain_hash, None).unwrap();
        let (token, hash) = crate::tokens::new_token();
        let secret = TotpSecret::generate();
        store
            .add_token(&name("siti"), hash, Some(secret.seal(&token)))
            .unwrap();
        (store, token.to_string(), plain.to_string(), secret)
    }

    #[test]
    fn login_needs_the_code_once_and_refuses_replays() {
        let dir = tempfile::tempdir().unwrap();
        let (store, token, plain, secret) = store_with(dir.path());
        let now = 1_700_000_000;
        let ok = |name: &str, totp| LoginOk {
            name: name.into(),
            totp_enrolled: totp,
        };
        // Without TOTP: the token alone, unless the operator requires TOTP.
        assert_eq!(
            check_login(&store, false, &plain, None, now).unwrap(),
            ok("plain", false)
        );
        assert!(matches!(
            check_login(&store, true, &plain, None, now),
            Err(LoginError::TotpNotEnrolled)
        ));
        assert!(matches!(
            check_login(&store, false, "wbs_nope", Some("123456"), now),
            Err(LoginError::UnknownToken)
        ));
        assert!(matches!(
            check_login(&store, false, &token, None, now),
            Err(LoginError::TotpRequired)
        ));
        assert!(matches!(
            check_login(&store, false, &token, Some("12a456"), now),
            Err(LoginError::TotpWrong)
        ));
        let code = secret.code_at(now);
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(matches!(
            check_login(&store, false, &token, Some(&wrong), now),
            Err(LoginError::TotpWrong)
        ));
        // A code from two steps ago is too old.
        let stale = secret.code_at(now - 2 * STEP_SECS);
        if stale != code {
            assert!(matches!(
                check_login(&store, false, &token, Some(&stale), now),
                Err(LoginError::TotpWrong)
            ));
        }
        // The previous step's code is accepted...
        let previous = secret.code_at(now - STEP_SECS);
        assert_eq!(
            check_login(&store, true, &token, Some(&previous), now).unwrap(),
            ok("siti", true)
        );
        // ...and is then spent, and so is anything at or before its step.
        assert!(matches!(
            check_login(&store, false, &token, Some(&previous), now),
            Err(LoginError::TotpReplayed)
        ));
        // The current code still works once.
        check_login(&store, false, &token, Some(&code), now).unwrap();
        assert!(matches!(
            check_login(&store, false, &token, Some(&code), now + 10),
            Err(LoginError::TotpReplayed)
        ));
        // The last step survives a reopen.
        drop(store);
        let store = SledStore::open(&dir.path().join("data")).unwrap();
        assert!(matches!(
            check_login(&store, false, &token, Some(&code), now),
            Err(LoginError::TotpReplayed)
        ));
        let next = secret.code_at(now + STEP_SECS);
        check_login(&store, false, &token, Some(&next), now).unwrap();
        assert!(store
            .list_tokens()
            .unwrap()
            .iter()
            .any(|t| t.name == "siti" && t.totp));
    }

    #[test]
    fn reenrolment_needs_the_token_and_resets_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let (store, token, plain, old) = store_with(dir.path());
        let now = 1_700_000_000;
        check_login(&store, false, &token, Some(&old.code_at(now)), now).unwrap();
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let plain_hash: [u8; 32] = Sha256::digest(plain.as_bytes()).into();
        let new = TotpSecret::generate();
        // Another token's hash does not re-enrol siti.
        assert!(matches!(
            store.set_token_totp(&name("siti"), plain_hash, Some(new.seal(&plain))),
            Err(StoreError::NotFound)
        ));
        store
            .set_token_totp(&name("siti"), hash, Some(new.seal(&token)))
            .unwrap();
        let earlier = new.code_at(now - STEP_SECS);
        if earlier != old.code_at(now) {
            check_login(&store, false, &token, Some(&earlier), now).unwrap();
        }
        // Removing it makes the token a plain one again.
        store.set_token_totp(&name("siti"), hash, None).unwrap();
        assert!(check_login(&store, false, &token, None, now).is_ok());
    }
}
