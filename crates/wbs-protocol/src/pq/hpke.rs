//! HPKE base mode (RFC 9180), only as far as age needs it: one message per
//! context, HKDF-SHA256 and ChaCha20-Poly1305, no PSK, no exporter.
//!
//! This is RFC 9180's key schedule (§5.1) written over the `hkdf` and
//! `chacha20poly1305` crates age itself uses; the KEM is the caller's (here,
//! X-Wing). Checked against RFC 9180 Appendix A.2.1
//! (`tests/testdata/pq/rfc9180-a2-base.json`).

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use hkdf::{Hkdf, HkdfExtract};
use sha2::Sha256;
use zeroize::Zeroizing;

const VERSION: &[u8] = b"HPKE-v1";
const KDF_HKDF_SHA256: u16 = 0x0001;
const AEAD_CHACHA20POLY1305: u16 = 0x0003;
const MODE_BASE: u8 = 0x00;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// A cipher suite: the KEM's identifier with HKDF-SHA256 and ChaCha20-Poly1305.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    id: [u8; 10],
}

/// The AEAD key and nonce of a context, good for its first message only
/// (sequence number 0), which is all age's single-shot seal and open use.
pub struct Context {
    key: Zeroizing<[u8; KEY_LEN]>,
    base_nonce: [u8; NONCE_LEN],
}

impl Suite {
    /// `suite_id = "HPKE" ‖ I2OSP(kem_id, 2) ‖ I2OSP(kdf_id, 2) ‖ I2OSP(aead_id, 2)`.
    pub const fn new(kem_id: u16) -> Self {
        let k = kem_id.to_be_bytes();
        let f = KDF_HKDF_SHA256.to_be_bytes();
        let a = AEAD_CHACHA20POLY1305.to_be_bytes();
        Suite {
            id: [b'H', b'P', b'K', b'E', k[0], k[1], f[0], f[1], a[0], a[1]],
        }
    }

    /// `LabeledExtract(salt, label, ikm)`.
    fn labeled_extract(&self, salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut extract = HkdfExtract::<Sha256>::new(Some(salt));
        for part in [VERSION, &self.id, label, ikm] {
            extract.input_ikm(part);
        }
        let (prk, _) = extract.finalize();
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&prk);
        out
    }

    /// `LabeledExpand(prk, label, info, L)` with `L = out.len()`.
    fn labeled_expand(&self, prk: &[u8; 32], label: &[u8], info: &[u8], out: &mut [u8]) {
        let len = u16::try_from(out.len())
            .expect("HPKE lengths fit two bytes")
            .to_be_bytes();
        Hkdf::<Sha256>::from_prk(prk)
            .expect("a 32-byte PRK")
            .expand_multi_info(&[&len, VERSION, &self.id, label, info], out)
            .expect("short HKDF-SHA256 outputs");
    }

    /// `KeyScheduleS`/`KeyScheduleR` in base mode (empty PSK and PSK id).
    pub fn key_schedule(&self, shared_secret: &[u8], info: &[u8]) -> Context {
        let (ksc, secret) = self.schedule(shared_secret, info);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        let mut base_nonce = [0u8; NONCE_LEN];
        self.labeled_expand(&secret, b"key", &ksc, &mut key[..]);
        self.labeled_expand(&secret, b"base_nonce", &ksc, &mut base_nonce);
        Context { key, base_nonce }
    }

    fn key_schedule_context(&self, info: &[u8]) -> Vec<u8> {
        let psk_id_hash = self.labeled_extract(b"", b"psk_id_hash", b"");
        let info_hash = self.labeled_extract(b"", b"info_hash", info);
        let mut ksc = Vec::with_capacity(65);
        ksc.push(MODE_BASE);
        ksc.extend_from_slice(&psk_id_hash[..]);
        ksc.extend_from_slice(&info_hash[..]);
        ksc
    }

    /// The key schedule context and the `secret` (kept apart for the tests).
    fn schedule(&self, shared_secret: &[u8], info: &[u8]) -> (Vec<u8>, Zeroizing<[u8; 32]>) {
        let ksc = self.key_schedule_context(info);
        // secret = LabeledExtract(shared_secret, "secret", psk) with psk = "".
        let secret = self.labeled_extract(shared_secret, b"secret", b"");
        (ksc, secret)
    }
}

impl Context {
    /// `Seal` of the context's first message.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        ChaCha20Poly1305::new((&*self.key).into())
            .encrypt(
                (&self.base_nonce).into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("ChaCha20-Poly1305 encrypts any short message")
    }

    /// `Open` of the context's first message; `None` if it does not authenticate.
    pub fn open(&self, aad: &[u8], ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        ChaCha20Poly1305::new((&*self.key).into())
            .decrypt(
                (&self.base_nonce).into(),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::pq::test_unhex as unhex;

    #[test]
    fn rfc9180_base_mode_vector() {
        let v: Value =
            serde_json::from_str(include_str!("../../tests/testdata/pq/rfc9180-a2-base.json"))
                .unwrap();
        assert_eq!(v["mode"], 0);
        assert_eq!(v["kdf_id"], 1);
        assert_eq!(v["aead_id"], 3);
        let suite = Suite::new(v["kem_id"].as_u64().unwrap() as u16);
        let ss = unhex(v["shared_secret"].as_str().unwrap());
        let info = unhex(v["info"].as_str().unwrap());
        let (ksc, secret) = suite.schedule(&ss, &info);
        assert_eq!(ksc, unhex(v["key_schedule_context"].as_str().unwrap()));
        assert_eq!(&secret[..], &unhex(v["secret"].as_str().unwrap())[..]);
        let ctx = suite.key_schedule(&ss, &info);
        assert_eq!(&ctx.key[..], &unhex(v["key"].as_str().unwrap())[..]);
        assert_eq!(
            &ctx.base_nonce[..],
            &unhex(v["base_nonce"].as_str().unwrap())[..]
        );
        // The first message of the context (sequence number 0).
        let first = &v["encryptions"][0];
        assert_eq!(first["nonce"], v["base_nonce"]);
        let aad = unhex(first["aad"].as_str().unwrap());
        let pt = unhex(first["pt"].as_str().unwrap());
        let ct = unhex(first["ct"].as_str().unwrap());
        assert_eq!(ctx.seal(&aad, &pt), ct);
        assert_eq!(ctx.open(&aad, &ct).unwrap().as_slice(), &pt[..]);
        let mut tampered = ct.clone();
        tampered[0] ^= 1;
        assert!(ctx.open(&aad, &tampered).is_none());
        assert!(ctx.open(b"", &ct).is_none());
    }
}
