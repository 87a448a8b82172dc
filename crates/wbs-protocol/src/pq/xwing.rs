//! X-Wing, the hybrid KEM behind age's `mlkem768x25519` recipients:
//! ML-KEM-768 and X25519 side by side, their shared secrets combined with
//! SHA3-256 (draft-connolly-cfrg-xwing-kem; the same KEM is called
//! MLKEM768-X25519 in draft-ietf-hpke-pq and filippo.io/hpke-pq).
//!
//! Nothing here is a new primitive: ML-KEM comes from the `ml-kem` crate
//! (its deterministic key generation from `d ‖ z`), X25519 from
//! `x25519-dalek`, SHAKE256 and SHA3-256 from `sha3`. This module only
//! composes them as the draft specifies, and is checked against the draft's
//! own vectors (`tests/testdata/pq/xwing-vectors.json`).
//!
//! One check the draft leaves to its users is made here, as the age
//! specification requires: an all-zero X25519 shared secret (a low-order
//! point for a public key or a ciphertext) is refused, when encapsulating
//! and when decapsulating.

use ml_kem::kem::Decapsulate;
use ml_kem::{EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem768, B32};
use rand::RngCore;
use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::{Digest, Sha3_256, Shake256};
use zeroize::{Zeroize, Zeroizing};

/// Length of a decapsulation key: the 32-byte seed everything is expanded from.
pub const SEED_LEN: usize = 32;
/// Length of an encoded public key: ML-KEM-768's 1,184 bytes and X25519's 32.
pub const PUBLIC_KEY_LEN: usize = MLKEM_PK_LEN + 32;
/// Length of a ciphertext (HPKE's `enc`): ML-KEM-768's 1,088 bytes and X25519's 32.
pub const CIPHERTEXT_LEN: usize = MLKEM_CT_LEN + 32;
/// Length of the shared secret.
pub const SHARED_SECRET_LEN: usize = 32;

const MLKEM_PK_LEN: usize = 1184;
const MLKEM_CT_LEN: usize = 1088;

/// The combiner's domain separator, `\./` `/^\` (hex 5c2e2f2f5e5c).
const LABEL: &[u8; 6] = b"\\.//^\\";

/// What encapsulation gives: the shared secret and the ciphertext.
pub type Encapsulated = (
    Zeroizing<[u8; SHARED_SECRET_LEN]>,
    Box<[u8; CIPHERTEXT_LEN]>,
);

type MlKemDk = <MlKem768 as KemCore>::DecapsulationKey;
type MlKemEk = <MlKem768 as KemCore>::EncapsulationKey;

/// Why an X-Wing operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XWingError {
    /// A public key of the wrong length, an ML-KEM key whose coefficients
    /// are not reduced (FIPS 203's modulus check), or a low-order X25519 key.
    #[error("not a valid X-Wing public key")]
    InvalidPublicKey,
    /// The X25519 shared secret is all zeroes: the peer's share is a
    /// low-order point.
    #[error("the X25519 share is a low-order point")]
    NonContributory,
}

/// An X-Wing public key.
#[derive(Clone)]
pub struct PublicKey {
    bytes: Box<[u8; PUBLIC_KEY_LEN]>,
    ek: MlKemEk,
    x25519: x25519_dalek::PublicKey,
}

/// An X-Wing decapsulation key, kept as its seed and the keys expanded
/// from it. Secret: no `Debug`, zeroized when dropped (the `ml-kem` and
/// `x25519-dalek` halves zeroize themselves).
pub struct DecapsulationKey {
    seed: Zeroizing<[u8; SEED_LEN]>,
    dk: MlKemDk,
    x25519: x25519_dalek::StaticSecret,
    public: PublicKey,
}

impl PublicKey {
    /// Parses an encoded public key, `pk_M ‖ pk_X`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, XWingError> {
        let bytes: [u8; PUBLIC_KEY_LEN] =
            bytes.try_into().map_err(|_| XWingError::InvalidPublicKey)?;
        let encoded_ek = ml_kem::Encoded::<MlKemEk>::try_from(&bytes[..MLKEM_PK_LEN])
            .map_err(|_| XWingError::InvalidPublicKey)?;
        let ek = MlKemEk::from_bytes(&encoded_ek);
        // FIPS 203 §7.2: decoding then encoding must give the key back, or a
        // coefficient was not reduced modulo q.
        if ek.as_bytes().as_slice() != &bytes[..MLKEM_PK_LEN] {
            return Err(XWingError::InvalidPublicKey);
        }
        let mut x = [0u8; 32];
        x.copy_from_slice(&bytes[MLKEM_PK_LEN..]);
        let x25519 = x25519_dalek::PublicKey::from(x);
        // Whatever the scalar, a low-order point gives an all-zero secret:
        // such a key could never be encapsulated to, refuse it now.
        let probe = x25519_dalek::StaticSecret::from([0x42; 32]);
        if !probe.diffie_hellman(&x25519).was_contributory() {
            return Err(XWingError::InvalidPublicKey);
        }
        Ok(PublicKey {
            bytes: Box::new(bytes),
            ek,
            x25519,
        })
    }

    /// The encoded key, `pk_M ‖ pk_X`.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// Encapsulates a fresh shared secret to this key, with randomness from
    /// the operating system.
    pub fn encapsulate(&self) -> Result<Encapsulated, XWingError> {
        let mut eseed = Zeroizing::new([0u8; 64]);
        rand::rngs::OsRng.fill_bytes(&mut eseed[..]);
        self.encapsulate_derand(&eseed)
    }

    /// `EncapsulateDerand` of the draft: the ML-KEM message is the first 32
    /// bytes of `eseed`, the X25519 ephemeral scalar the last 32.
    pub(crate) fn encapsulate_derand(&self, eseed: &[u8; 64]) -> Result<Encapsulated, XWingError> {
        let mut m = B32::default();
        m.copy_from_slice(&eseed[..32]);
        let (ct_m, mut ss_m) = self
            .ek
            .encapsulate_deterministic(&m)
            .map_err(|()| XWingError::InvalidPublicKey)?;
        m.as_mut_slice().zeroize();

        let mut ek_x = Zeroizing::new([0u8; 32]);
        ek_x.copy_from_slice(&eseed[32..]);
        let ephemeral = x25519_dalek::StaticSecret::from(*ek_x);
        let ct_x = x25519_dalek::PublicKey::from(&ephemeral);
        let ss_x = ephemeral.diffie_hellman(&self.x25519);
        if !ss_x.was_contributory() {
            ss_m.as_mut_slice().zeroize();
            return Err(XWingError::NonContributory);
        }
        let ss = combine(
            &ss_m,
            ss_x.as_bytes(),
            ct_x.as_bytes(),
            self.x25519.as_bytes(),
        );
        ss_m.as_mut_slice().zeroize();

        let mut ct = Box::new([0u8; CIPHERTEXT_LEN]);
        ct[..MLKEM_CT_LEN].copy_from_slice(&ct_m);
        ct[MLKEM_CT_LEN..].copy_from_slice(ct_x.as_bytes());
        Ok((ss, ct))
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl Eq for PublicKey {}

impl DecapsulationKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut seed[..]);
        Self::from_seed(&seed)
    }

    /// Expands a seed: SHAKE256(seed) gives 96 bytes, `d ‖ z` for ML-KEM's
    /// key generation and the X25519 scalar.
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        let mut expanded = Zeroizing::new([0u8; 96]);
        let mut shake = Shake256::default();
        shake.update(seed);
        shake.finalize_xof().read(&mut expanded[..]);

        let mut d = B32::default();
        let mut z = B32::default();
        d.copy_from_slice(&expanded[..32]);
        z.copy_from_slice(&expanded[32..64]);
        let (dk, ek) = MlKem768::generate_deterministic(&d, &z);
        d.as_mut_slice().zeroize();
        z.as_mut_slice().zeroize();

        let mut sk_x = Zeroizing::new([0u8; 32]);
        sk_x.copy_from_slice(&expanded[64..]);
        let x25519 = x25519_dalek::StaticSecret::from(*sk_x);
        let pk_x = x25519_dalek::PublicKey::from(&x25519);

        let mut bytes = Box::new([0u8; PUBLIC_KEY_LEN]);
        bytes[..MLKEM_PK_LEN].copy_from_slice(&ek.as_bytes());
        bytes[MLKEM_PK_LEN..].copy_from_slice(pk_x.as_bytes());
        DecapsulationKey {
            seed: Zeroizing::new(*seed),
            dk,
            x25519,
            public: PublicKey {
                bytes,
                ek,
                x25519: pk_x,
            },
        }
    }

    /// The seed this key was expanded from: the whole secret.
    pub fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Decapsulates `ct_M ‖ ct_X`. ML-KEM never fails (a wrong ciphertext
    /// gives an unrelated secret, its implicit rejection); only an all-zero
    /// X25519 secret is refused.
    pub fn decapsulate(
        &self,
        ct: &[u8; CIPHERTEXT_LEN],
    ) -> Result<Zeroizing<[u8; SHARED_SECRET_LEN]>, XWingError> {
        let ct_m = ml_kem::Ciphertext::<MlKem768>::try_from(&ct[..MLKEM_CT_LEN])
            .expect("the ML-KEM-768 ciphertext length");
        let mut ct_x = [0u8; 32];
        ct_x.copy_from_slice(&ct[MLKEM_CT_LEN..]);
        let ss_x = self
            .x25519
            .diffie_hellman(&x25519_dalek::PublicKey::from(ct_x));
        if !ss_x.was_contributory() {
            return Err(XWingError::NonContributory);
        }
        let mut ss_m = self
            .dk
            .decapsulate(&ct_m)
            .expect("ML-KEM decapsulation is infallible");
        let ss = combine(&ss_m, ss_x.as_bytes(), &ct_x, self.public.x25519.as_bytes());
        ss_m.as_mut_slice().zeroize();
        Ok(ss)
    }
}

/// The X-Wing combiner: SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ label).
fn combine(ss_m: &[u8], ss_x: &[u8; 32], ct_x: &[u8; 32], pk_x: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut h = Sha3_256::new();
    Digest::update(&mut h, ss_m);
    Digest::update(&mut h, ss_x);
    Digest::update(&mut h, ct_x);
    Digest::update(&mut h, pk_x);
    Digest::update(&mut h, LABEL);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&h.finalize());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::pq::test_unhex as unhex;

    #[test]
    fn label_is_the_drafts() {
        assert_eq!(LABEL, &[0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);
    }

    #[test]
    fn published_xwing_vectors() {
        let vectors: Value =
            serde_json::from_str(include_str!("../../tests/testdata/pq/xwing-vectors.json"))
                .unwrap();
        let list = vectors.as_array().unwrap();
        assert_eq!(list.len(), 3);
        for v in list {
            let seed: [u8; 32] = unhex(v["seed"].as_str().unwrap()).try_into().unwrap();
            assert_eq!(unhex(v["sk"].as_str().unwrap()), seed);
            let dk = DecapsulationKey::from_seed(&seed);
            let pk = unhex(v["pk"].as_str().unwrap());
            assert_eq!(&dk.public_key().as_bytes()[..], &pk[..]);
            let parsed = PublicKey::from_bytes(&pk).unwrap();
            let eseed: [u8; 64] = unhex(v["eseed"].as_str().unwrap()).try_into().unwrap();
            let (ss, ct) = parsed.encapsulate_derand(&eseed).unwrap();
            assert_eq!(&ct[..], &unhex(v["ct"].as_str().unwrap())[..]);
            assert_eq!(&ss[..], &unhex(v["ss"].as_str().unwrap())[..]);
            assert_eq!(&dk.decapsulate(&ct).unwrap()[..], &ss[..]);
        }
    }

    #[test]
    fn random_round_trip_and_wrong_key() {
        let dk = DecapsulationKey::generate();
        let (ss, ct) = dk.public_key().encapsulate().unwrap();
        assert_eq!(dk.decapsulate(&ct).unwrap(), ss);
        let other = DecapsulationKey::generate();
        assert_ne!(other.decapsulate(&ct).unwrap(), ss);
    }

    #[test]
    fn a_low_order_x25519_share_is_refused() {
        let dk = DecapsulationKey::generate();
        let (_, mut ct) = dk.public_key().encapsulate().unwrap();
        // The identity point (0) and the point of order 8 with u = 1.
        for point in [[0u8; 32], {
            let mut p = [0u8; 32];
            p[0] = 1;
            p
        }] {
            ct[MLKEM_CT_LEN..].copy_from_slice(&point);
            assert_eq!(dk.decapsulate(&ct), Err(XWingError::NonContributory));
        }
        let mut pk = *dk.public_key().as_bytes();
        pk[MLKEM_PK_LEN..].copy_from_slice(&[0u8; 32]);
        assert_eq!(
            PublicKey::from_bytes(&pk).err(),
            Some(XWingError::InvalidPublicKey)
        );
    }

    #[test]
    fn malformed_public_keys_are_refused() {
        let dk = DecapsulationKey::generate();
        let pk = dk.public_key().as_bytes();
        assert!(PublicKey::from_bytes(&pk[..PUBLIC_KEY_LEN - 1]).is_err());
        // An unreduced ML-KEM coefficient: the first 12 bits all ones (4095 ≥ q).
        let mut bad = *pk;
        bad[0] = 0xff;
        bad[1] |= 0x0f;
        assert_eq!(
            PublicKey::from_bytes(&bad).err(),
            Some(XWingError::InvalidPublicKey)
        );
    }
}
