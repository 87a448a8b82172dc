//! Stateless proof-of-work challenges (PROTOCOL.md §6).
//!
//! A challenge is `base64url(nonce ‖ ChaCha20-Poly1305(key, nonce, id ‖
//! expires_at ‖ difficulty))` under a key that lives only in this process's
//! memory. The server keeps no per-visitor state: only the ids of spent
//! challenges, until they expire, so each is used once. After a restart,
//! outstanding challenges stop working and clients fetch new ones.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use wbs_protocol::api::{PowChallenge, PowSolution};

use crate::error::ApiError;

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

impl PowIssuer {
    /// A new issuer with a fresh random key.
    pub fn new(difficulty: u8, ttl_secs: u64) -> Self {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut key[..]);
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
