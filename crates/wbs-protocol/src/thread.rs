//! Authenticated case threads (PROTOCOL.md §4.4).
//!
//! A case has two parties, the reporter and the inspectorate, and one party
//! in the middle that must not be able to speak for either: the server (or
//! anyone who learned a lookup key, or stole a desk token). Encryption alone
//! does not stop it: the inspectorate's and the reporter's keys are public,
//! so anyone can encrypt a "follow-up" or a "reply".
//!
//! The **thread key** is derived from the receipt code (HKDF, info
//! `thread-hmac`), so only the reporter's device knows it at first. The
//! reporter's client puts it inside the encrypted report, which only the
//! inspectorate can read. From then on both parties hold it and the server
//! never does. Every follow-up and every reply carries, inside its own
//! encryption, an HMAC-SHA256 under that key over:
//!
//! - a protocol label and the **direction** (`followup` from the reporter,
//!   `reply` from the inspectorate), so neither can be replayed as the other;
//! - the **case**: the reporter's reply recipient, which is derived from the
//!   same receipt code and is in the report, so an authenticator made for one
//!   case means nothing in another;
//! - the message's random **id**, so a reader can tell a replayed copy from a
//!   new message;
//! - the **content**: the body and every attachment's name, type, size and
//!   SHA-256 (follow-ups), or the body and the status the reply sets (replies).
//!
//! The input is a sequence of fields, each written as its length (4 bytes,
//! big-endian) followed by its UTF-8 bytes, so no two different messages have
//! the same input.
//!
//! What this does not give: the two parties share the key, so each could write
//! the other's messages (a reporter can only fool themself; the inspectorate
//! is the party the reporter trusts). The server can still withhold, delay or
//! reorder messages, and can show the same verified message twice: readers
//! show a message id once.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::message::{AttachmentMeta, FollowUp, Reply};

/// Version label, the first field of every authenticator's input.
pub const THREAD_LABEL: &str = "wbs-thread/1";
/// Direction field of a follow-up (reporter → inspectorate).
pub const DIRECTION_FOLLOWUP: &str = "followup";
/// Direction field of a reply (inspectorate → reporter).
pub const DIRECTION_REPLY: &str = "reply";
/// Length of a message id in bytes before base64url (22 characters).
pub const MESSAGE_ID_BYTES: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// The key both parties of a case hold and the server never sees.
///
/// A secret: no `Debug`, zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ThreadKey([u8; 32]);

/// How a follow-up or reply stands against the case's thread key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The authenticator is present and correct: the message is the other
    /// party's, unchanged.
    Verified,
    /// The message carries no authenticator, or the case has no thread key
    /// (a report from a client older than authenticated threads). Nothing
    /// can be said about who wrote it.
    Unauthenticated,
    /// An authenticator is present but wrong (or malformed), or the case has
    /// a thread key and the message has none: somebody other than the case's
    /// parties wrote or changed it.
    Failed,
}

impl ThreadKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ThreadKey(bytes)
    }

    /// Parses the form carried in the report: base64url without padding.
    pub fn from_base64url(s: &str) -> Option<Self> {
        let bytes = zeroize::Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .ok()?,
        );
        let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(ThreadKey(arr))
    }

    /// The form carried inside the report: base64url without padding.
    pub fn to_base64url(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0))
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    /// The authenticator of a follow-up in the case whose reply recipient is
    /// `case` (base64url, 43 characters). Uses the follow-up's `id`, body and
    /// attachments; its `auth` field is ignored.
    pub fn followup_auth(&self, case: &str, followup: &FollowUp) -> String {
        let mut mac = self.mac();
        feed_followup(&mut mac, case, followup);
        encode_tag(mac)
    }

    /// The authenticator of a reply in the case whose reply recipient is
    /// `case`. Uses the reply's `id`, body and status; its `auth` field is
    /// ignored.
    pub fn reply_auth(&self, case: &str, reply: &Reply) -> String {
        let mut mac = self.mac();
        feed_reply(&mut mac, case, reply);
        encode_tag(mac)
    }

    /// Checks a follow-up's authenticator (in constant time).
    pub fn verify_followup(&self, case: &str, followup: &FollowUp) -> Verification {
        let Some(tag) = followup.auth.as_deref() else {
            return Verification::Failed;
        };
        let mut mac = self.mac();
        feed_followup(&mut mac, case, followup);
        check_tag(mac, tag)
    }

    /// Checks a reply's authenticator (in constant time).
    pub fn verify_reply(&self, case: &str, reply: &Reply) -> Verification {
        let Some(tag) = reply.auth.as_deref() else {
            return Verification::Failed;
        };
        let mut mac = self.mac();
        feed_reply(&mut mac, case, reply);
        check_tag(mac, tag)
    }
}

/// Verifies a follow-up where the case may have no thread key (a report
/// from an older client): then every follow-up is
/// [`Verification::Unauthenticated`].
pub fn verify_followup(key: Option<&ThreadKey>, case: &str, followup: &FollowUp) -> Verification {
    match key {
        Some(key) => key.verify_followup(case, followup),
        None => Verification::Unauthenticated,
    }
}

/// A fresh random message id: 16 bytes, base64url without padding.
pub fn new_message_id() -> String {
    let mut id = [0u8; MESSAGE_ID_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn field(mac: &mut HmacSha256, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("fields are bounded by the 4 MiB document limit");
    mac.update(&len.to_be_bytes());
    mac.update(bytes);
}

fn feed_header(mac: &mut HmacSha256, direction: &str, case: &str, id: Option<&str>) {
    field(mac, THREAD_LABEL.as_bytes());
    field(mac, direction.as_bytes());
    field(mac, case.as_bytes());
    field(mac, id.unwrap_or("").as_bytes());
}

fn feed_attachment(mac: &mut HmacSha256, a: &AttachmentMeta) {
    field(mac, a.name.as_bytes());
    field(mac, a.media_type.as_bytes());
    field(mac, a.size.to_string().as_bytes());
    field(mac, a.sha256.as_bytes());
}

fn feed_followup(mac: &mut HmacSha256, case: &str, f: &FollowUp) {
    feed_header(mac, DIRECTION_FOLLOWUP, case, f.id.as_deref());
    field(mac, f.body.as_bytes());
    field(mac, f.attachments.len().to_string().as_bytes());
    for a in &f.attachments {
        feed_attachment(mac, a);
    }
}

fn feed_reply(mac: &mut HmacSha256, case: &str, r: &Reply) {
    feed_header(mac, DIRECTION_REPLY, case, r.id.as_deref());
    field(mac, r.body.as_bytes());
    field(mac, r.status.as_deref().unwrap_or("").as_bytes());
}

fn encode_tag(mac: HmacSha256) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn check_tag(mac: HmacSha256, tag: &str) -> Verification {
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
        return Verification::Failed;
    };
    if bytes.len() != 32 {
        return Verification::Failed;
    }
    match mac.verify_slice(&bytes) {
        Ok(()) => Verification::Verified,
        Err(_) => Verification::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{FOLLOWUP_FORMAT, REPLY_FORMAT};
    use crate::ReceiptCode;

    fn followup() -> FollowUp {
        FollowUp {
            format: FOLLOWUP_FORMAT.into(),
            id: Some(new_message_id()),
            body: "Ada bukti baru".into(),
            attachments: vec![AttachmentMeta {
                name: "kuitansi.jpg".into(),
                media_type: "image/jpeg".into(),
                size: 1234,
                sha256: "ab".repeat(32),
                metadata: None,
            }],
            auth: None,
        }
    }

    fn reply() -> Reply {
        Reply {
            format: REPLY_FORMAT.into(),
            id: Some(new_message_id()),
            body: "Terima kasih".into(),
            status: Some("in_review".into()),
            auth: None,
        }
    }

    #[test]
    fn a_followup_verifies_and_any_change_breaks_it() {
        let code = ReceiptCode::generate();
        let key = code.thread_key();
        let case = code.reply_recipient().to_string();
        let mut f = followup();
        f.auth = Some(key.followup_auth(&case, &f));
        assert_eq!(key.verify_followup(&case, &f), Verification::Verified);

        let mut body = f.clone();
        body.body.push('!');
        assert_eq!(key.verify_followup(&case, &body), Verification::Failed);
        let mut digest = f.clone();
        digest.attachments[0].sha256 = "cd".repeat(32);
        assert_eq!(key.verify_followup(&case, &digest), Verification::Failed);
        let mut dropped = f.clone();
        dropped.attachments.clear();
        assert_eq!(key.verify_followup(&case, &dropped), Verification::Failed);
        let mut id = f.clone();
        id.id = Some(new_message_id());
        assert_eq!(key.verify_followup(&case, &id), Verification::Failed);
        let other_case = ReceiptCode::generate().reply_recipient().to_string();
        assert_eq!(key.verify_followup(&other_case, &f), Verification::Failed);
        let other_key = ReceiptCode::generate().thread_key();
        assert_eq!(other_key.verify_followup(&case, &f), Verification::Failed);
        let mut none = f.clone();
        none.auth = None;
        assert_eq!(key.verify_followup(&case, &none), Verification::Failed);
        assert_eq!(
            verify_followup(None, &case, &f),
            Verification::Unauthenticated
        );
    }

    #[test]
    fn a_reply_covers_its_status() {
        let code = ReceiptCode::generate();
        let key = code.thread_key();
        let case = code.reply_recipient().to_string();
        let mut r = reply();
        r.auth = Some(key.reply_auth(&case, &r));
        assert_eq!(key.verify_reply(&case, &r), Verification::Verified);
        let mut status = r.clone();
        status.status = Some("closed_substantiated".into());
        assert_eq!(key.verify_reply(&case, &status), Verification::Failed);
        let mut no_status = r.clone();
        no_status.status = None;
        assert_eq!(key.verify_reply(&case, &no_status), Verification::Failed);
        let mut garbage = r.clone();
        garbage.auth = Some("not base64 !".into());
        assert_eq!(key.verify_reply(&case, &garbage), Verification::Failed);
    }

    #[test]
    fn directions_cannot_be_swapped() {
        // A follow-up and a reply with the same id and body, and no
        // attachments or status, must not share an authenticator.
        let code = ReceiptCode::generate();
        let key = code.thread_key();
        let case = code.reply_recipient().to_string();
        let id = new_message_id();
        let f = FollowUp {
            format: FOLLOWUP_FORMAT.into(),
            id: Some(id.clone()),
            body: "sama".into(),
            attachments: vec![],
            auth: None,
        };
        let mut r = Reply {
            format: REPLY_FORMAT.into(),
            id: Some(id),
            body: "sama".into(),
            status: None,
            auth: None,
        };
        r.auth = Some(key.followup_auth(&case, &f));
        assert_eq!(key.verify_reply(&case, &r), Verification::Failed);
        assert_ne!(key.followup_auth(&case, &f), key.reply_auth(&case, &r));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        // Moving text from the body into the id must change the input.
        let key = ThreadKey::from_bytes([7; 32]);
        let a = Reply {
            format: REPLY_FORMAT.into(),
            id: Some("ab".into()),
            body: "c".into(),
            status: None,
            auth: None,
        };
        let b = Reply {
            id: Some("a".into()),
            body: "bc".into(),
            ..a.clone()
        };
        assert_ne!(key.reply_auth("x", &a), key.reply_auth("x", &b));
    }

    #[test]
    fn the_key_round_trips_and_differs_per_code() {
        let code = ReceiptCode::generate();
        let wire = code.thread_key().to_base64url();
        assert_eq!(wire.len(), 43);
        let back = ThreadKey::from_base64url(&wire).unwrap();
        assert_eq!(back.0, code.thread_key().0);
        assert!(ThreadKey::from_base64url("short").is_none());
        assert_ne!(ReceiptCode::generate().thread_key().0, code.thread_key().0);
        // Not any other derivation of the same code.
        assert_ne!(
            code.thread_key().to_base64url().as_str(),
            code.lookup_key().to_base64url()
        );
    }
}
