//! How keys and values are laid out in the sled trees.
//!
//! Numbers in keys are big-endian, so sled's byte order is numeric order and
//! a range scan over `objects` walks the export sequence. Values are
//! serde_json; anything that does not parse is reported as corruption,
//! never skipped.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;

use crate::error::StoreError;
use crate::records::{hex32, CaseRecord, TotpRecord};

/// Key of a sequence number (objects, audit entries).
pub(crate) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Reads a big-endian `u64` value or key.
pub(crate) fn read_u64(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!("{what}: expected 8 bytes, found {}", bytes.len()))
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// Key of the `case_objects` index: the case id, then the object's seq, so
/// a prefix scan on the case id lists its objects in order. Case ids have a
/// fixed length, so no id is a prefix of another.
pub(crate) fn case_object_key(case_id: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(case_id.len() + 8);
    key.extend_from_slice(case_id.as_bytes());
    key.extend_from_slice(&seq_key(seq));
    key
}

/// The seq at the end of a `case_objects` key.
pub(crate) fn seq_of_case_object_key(key: &[u8]) -> Result<u64, StoreError> {
    if key.len() < 8 {
        return Err(StoreError::Corrupt("case_objects: key too short".into()));
    }
    read_u64(&key[key.len() - 8..], "case_objects key")
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    // Our records always serialize; an error here is a bug, not bad input.
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("cannot encode record: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("{what}: record does not parse: {e}")))
}

/// Wraps a store error to abort a sled transaction with it.
pub(crate) fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// A case as stored: the record the server sees, plus the lookup hash it
/// is indexed under, kept so that deleting the case can remove the index
/// entry too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredCase {
    #[serde(with = "hex32")]
    pub lookup: [u8; 32],
    pub case: CaseRecord,
}

/// What `applied_items` keeps per applied reply-bundle item: only the date.
/// No case id, so the entry says nothing once its case is deleted, yet a
/// re-pushed old bundle is still recognised.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AppliedItem {
    pub on: crate::types::Day,
}

/// What `tokens` keeps per token hash.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredToken {
    pub name: String,
    pub created_on: crate::types::Day,
    /// Absent in records written before TOTP existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_keys_sort_numerically() {
        let mut keys: Vec<_> = [256u64, 1, 65_536, 255, 2]
            .iter()
            .map(|&s| seq_key(s))
            .collect();
        keys.sort();
        let back: Vec<u64> = keys.iter().map(|k| read_u64(k, "t").unwrap()).collect();
        assert_eq!(back, [1, 2, 255, 256, 65_536]);
    }

    #[test]
    fn case_object_keys_carry_their_seq() {
        let key = case_object_key("0123456789abcdefghjk", 77);
        assert!(key.starts_with(b"0123456789abcdefghjk"));
        assert_eq!(seq_of_case_object_key(&key).unwrap(), 77);
        assert!(read_u64(&[1, 2, 3], "t").is_err());
    }
}
