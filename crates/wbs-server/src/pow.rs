//! Stateless proof-of-work challenges (PROTOCOL.md §6).
//!
//! A challenge is `base64url(nonce ‖ ChaCha20-Poly1305(key, nonce, id ‖
//! expires_at ‖ difficulty))` under a key that lives only in this process's
//! memory, or, for several instances behind one address, the key of
//! `[pow] key_file` that they share ([`load_key`]). The server keeps no
//! per-visitor state: issuing a challenge records nothing, and only the ids
//! of redeemed challenges are kept ([`Claims`] in memory, the spent list in
//! the store, which all instances on one store share), until they expire,
//! so each is used once. After a restart without a key file, outstanding
//! challenges stop working and clients fetch new ones.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use wbs_protocol::api::{PowChallenge, PowSolution};

use crate::error::ApiError;

/// Reads a challenge key file: 64 hex digits on its first line, in a file
/// no other user may read.
pub fn load_key(path: &std::path::Path) -> Result<zeroize::Zeroizing<[u8; 32]>, String> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("cannot read pow.key_file {shown}: {e}"))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "pow.key_file {shown} is readable by other users; chmod 600 it"
            ));
        }
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read pow.key_file {shown}: {e}"))?,
    );
    let line = text.lines().next().unwrap_or_default().trim();
    let key = wbs_protocol::parse_sha256_hex(&line.to_ascii_lowercase()).ok_or_else(|| {
        format!("pow.key_file {shown} must hold 64 hex digits (e.g. from `openssl rand -hex 32`)")
    })?;
    Ok(zeroize::Zeroizing::new(key))
}

/// Issues and opens challenges.
pub struct PowIssuer {
    cipher: ChaCha20Poly1305,
    /// Leading zero bits asked for; 0 = off.
    pub difficulty: u8,
    ttl_secs: u64,
}

/// A verified, not-yet-spent challenge.
pub struct Verified {
    /// Random id, to be spent.
    pub id: [u8; 16],
    /// When it expires.
    pub expires_at: u64,
    /// Until when its id must be remembered as spent: see [`forget_at`].
    pub forget_at: u64,
}

/// When the id of a challenge that expires at `expires_at` may be
/// forgotten: the end of the UTC day it was issued on, plus its lifetime.
///
/// The exact expiry is the second the challenge was handed out plus the
/// lifetime, so storing it in the spent list dated every submission to the
/// second on disk (found by tests/tests/metadata_promises.rs). This value
/// is never earlier than the expiry, so a replay is still caught, and it
/// tells only the day, which `received_on` says anyway.
pub fn forget_at(expires_at: u64, ttl_secs: u64) -> u64 {
    let issued = expires_at.saturating_sub(ttl_secs);
    (issued / 86_400 + 1)
        .saturating_mul(86_400)
        .saturating_add(ttl_secs)
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Ids of the challenges this process has accepted for redemption and
/// not released: the fast, in-memory half of "each challenge is used
/// once". A replayed solution is refused here, without a storage write or
/// a charge to any budget, and two requests racing with one solution
/// cannot both go on. The store's list of spent ids stays the durable
/// record.
///
/// Bounded: an id enters only with a solution that verified, and stays only
/// if its request was charged to a budget ([`crate::limits`]), so the map
/// holds at most the budgets' worth of ids over one challenge lifetime,
/// plus the requests in flight; expired ids are dropped as it grows.
#[derive(Default)]
pub struct Claims {
    ids: Mutex<ClaimMap>,
}

#[derive(Default)]
struct ClaimMap {
    expires: HashMap<[u8; 16], u64>,
    prune_at: usize,
}

impl Claims {
    /// Claims `id` (expiring at `expires_at`) for one request; `false` if it
    /// is already claimed or spent.
    pub fn claim(&self, id: [u8; 16], expires_at: u64, now: u64) -> bool {
        let mut m = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if m.expires.len() >= m.prune_at {
            m.expires.retain(|_, e| *e >= now);
            m.prune_at = (m.expires.len() * 2).max(1024);
        }
        match m.expires.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(expires_at);
                true
            }
        }
    }

    /// Gives up a claim whose request was refused before the challenge was
    /// spent, so its solution can be sent again.
    pub fn release(&self, id: &[u8; 16]) {
        let mut m = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        m.expires.remove(id);
    }

    /// How many ids are held.
    pub fn len(&self) -> usize {
        let m = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        m.expires.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PowIssuer {
    /// A new issuer with a fresh random key.
    pub fn new(difficulty: u8, ttl_secs: u64) -> Self {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut key[..]);
        Self::with_key(&key, difficulty, ttl_secs)
    }

    /// An issuer with a given key (shared by the instances on one store).
    pub fn with_key(key: &[u8; 32], difficulty: u8, ttl_secs: u64) -> Self {
        PowIssuer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key[..])),
            difficulty,
            ttl_secs,
        }
    }

    /// A fresh challenge.
    pub fn issue(&self, now: u64) -> PowChallenge {
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let expires_at = now + self.ttl_secs;
        let mut plain = Vec::with_capacity(25);
        plain.extend_from_slice(&id);
        plain.extend_from_slice(&expires_at.to_be_bytes());
        plain.push(self.difficulty);
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .expect("ChaCha20-Poly1305 encryption cannot fail");
        let mut token = nonce.to_vec();
        token.extend_from_slice(&sealed);
        PowChallenge {
            challenge: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token),
            difficulty: self.difficulty,
            expires_at,
        }
    }

    /// Checks a solution: sealed by us, not expired, at least the current
    /// difficulty, and the hash condition met. Spending is the caller's job.
    pub fn verify(
        &self,
        solution: Option<&PowSolution>,
        now: u64,
    ) -> Result<Option<Verified>, ApiError> {
        if self.difficulty == 0 {
            return Ok(None);
        }
        let Some(solution) = solution else {
            return Err(ApiError::bad_request(
                "pow_required",
                "this server asks for a proof of work: fetch /api/v1/pow and solve it",
            ));
        };
        let invalid = || ApiError::bad_request("pow_invalid", "the proof of work is not valid");
        if solution.challenge.len() > 256 {
            return Err(invalid());
        }
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&solution.challenge)
            .map_err(|_| invalid())?;
        if token.len() != 12 + 25 + 16 {
            return Err(invalid());
        }
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&token[..12]), &token[12..])
            .map_err(|_| invalid())?;
        let id: [u8; 16] = plain[..16].try_into().expect("length checked");
        let expires_at = u64::from_be_bytes(plain[16..24].try_into().expect("length checked"));
        let difficulty = plain[24];
        if expires_at < now {
            return Err(ApiError::bad_request(
                "pow_expired",
                "the proof-of-work challenge has expired: fetch a new one",
            ));
        }
        if difficulty < self.difficulty
            || !wbs_protocol::pow::check(&solution.challenge, solution.nonce, difficulty)
        {
            return Err(invalid());
        }
        Ok(Some(Verified {
            id,
            expires_at,
            forget_at: forget_at(expires_at, self.ttl_secs),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solved_challenges_verify_and_forgeries_do_not() {
        let issuer = PowIssuer::new(8, 60);
        let c = issuer.issue(1000);
        let nonce = wbs_protocol::pow::solve(&c.challenge, 8);
        let ok = PowSolution {
            challenge: c.challenge.clone(),
            nonce,
        };
        assert!(issuer.verify(Some(&ok), 1000).unwrap().is_some());
        // Expired.
        assert_eq!(
            issuer.verify(Some(&ok), 2000).err().unwrap().code,
            "pow_expired"
        );
        // Wrong nonce (almost surely).
        let mut bad_nonce = ok.clone();
        bad_nonce.nonce = (0..)
            .find(|&n| !wbs_protocol::pow::check(&c.challenge, n, 8))
            .unwrap();
        assert_eq!(
            issuer.verify(Some(&bad_nonce), 1000).err().unwrap().code,
            "pow_invalid"
        );
        // Another server's challenge.
        let other = PowIssuer::new(8, 60).issue(1000);
        let forged = PowSolution {
            nonce: wbs_protocol::pow::solve(&other.challenge, 8),
            challenge: other.challenge,
        };
        assert_eq!(
            issuer.verify(Some(&forged), 1000).err().unwrap().code,
            "pow_invalid"
        );
        // Missing.
        assert_eq!(
            issuer.verify(None, 1000).err().unwrap().code,
            "pow_required"
        );
        // Off.
        assert!(PowIssuer::new(0, 60).verify(None, 1000).unwrap().is_none());
    }

    #[test]
    fn instances_with_one_key_file_accept_each_others_challenges() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pow.key");
        std::fs::write(&file, format!("{}\n", "A1".repeat(32))).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = load_key(&file).unwrap_err();
            assert!(err.contains("other users"), "{err}");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let key = load_key(&file).unwrap();
        let (a, b) = (
            PowIssuer::with_key(&key, 8, 60),
            PowIssuer::with_key(&key, 8, 60),
        );
        let c = a.issue(1000);
        let solved = PowSolution {
            nonce: wbs_protocol::pow::solve(&c.challenge, 8),
            challenge: c.challenge,
        };
        assert!(b.verify(Some(&solved), 1000).unwrap().is_some());
        assert_eq!(
            PowIssuer::new(8, 60)
                .verify(Some(&solved), 1000)
                .err()
                .unwrap()
                .code,
            "pow_invalid"
        );
        std::fs::write(&file, "not hex\n").unwrap();
        assert!(load_key(&file).unwrap_err().contains("64 hex digits"));
    }

    #[test]
    fn a_claim_is_exclusive_until_released_and_expired_ones_are_dropped() {
        let claims = Claims::default();
        assert!(claims.claim([1; 16], 100, 10));
        assert!(!claims.claim([1; 16], 100, 10), "claimed twice");
        claims.release(&[1; 16]);
        assert!(claims.claim([1; 16], 100, 10), "a released claim is free");
        // Fill past the first pruning point with ids that expire at 50.
        for i in 0..2000u32 {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            id[15] = 9;
            assert!(claims.claim(id, 50, 10));
        }
        assert!(claims.len() > 1024);
        // At time 60 they are expired and go at the next pruning; the live
        // one stays.
        let mut n = 0u32;
        while claims.len() > 1000 {
            let mut id = [7u8; 16];
            id[..4].copy_from_slice(&n.to_be_bytes());
            assert!(claims.claim(id, 100, 60));
            n += 1;
            assert!(n < 5_000, "expired claims were never dropped");
        }
        assert!(claims.len() <= n as usize + 1);
        assert!(!claims.claim([1; 16], 100, 60), "a live claim was dropped");
    }

    #[test]
    fn spent_ids_are_kept_past_expiry_but_dated_only_by_day() {
        let ttl = 1800;
        for issued in [0u64, 1, 86_399, 86_400, 1_795_813_163, 1_795_852_799] {
            let expires = issued + ttl;
            let f = forget_at(expires, ttl);
            assert!(f >= expires, "{issued}");
            // Every challenge of one day gets the same value.
            assert_eq!(f, forget_at((issued / 86_400) * 86_400 + ttl, ttl));
            assert_eq!((f - ttl) % 86_400, 0);
        }
        let issuer = PowIssuer::new(4, ttl);
        let c = issuer.issue(1_795_813_163);
        let solution = PowSolution {
            nonce: wbs_protocol::pow::solve(&c.challenge, 4),
            challenge: c.challenge,
        };
        let v = issuer
            .verify(Some(&solution), 1_795_813_163)
            .unwrap()
            .unwrap();
        assert_eq!(v.forget_at, 1_795_824_000 + ttl);
    }
}
