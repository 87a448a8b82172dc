//! What the desk side needs besides cases: investigator tokens, the audit
//! log, and the spent proof-of-work challenge ids.

use sled::transaction::ConflictableTransactionResult;
use sled::Transactional;
use wbs_protocol::date::today_utc;

use super::{SledStore, META_DIGEST, META_LAST_AUDIT};
use crate::codec::{abort, from_json, read_u64, seq_key, to_json, StoredToken};
use crate::error::StoreError;
use crate::records::{check_date, AuditEntry, DigestState, TokenAuth, TokenInfo, TotpRecord};

/// How many expired challenge ids one `spend_pow` call prunes at most, so
/// that a backlog never makes a single submission slow.
const POW_PRUNE_BATCH: usize = 1000;

/// Token names are chosen by the operator and shown in the audit log: keep
/// them short and printable.
pub(crate) fn check_token_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name.trim() == name
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "token name {name:?} must be 1 to 64 printable characters, without leading or \
             trailing spaces"
        )))
    }
}

/// Key of `pow_expiry`: expiry first, so expired ids form a prefix range.
fn pow_expiry_key(expires_at: u64, id: &[u8; 16]) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&seq_key(expires_at));
    key[8..].copy_from_slice(id);
    key
}

impl SledStore {
    pub(super) fn add_token_impl(
        &self,
        name: &str,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        self.writable()?;
        check_token_name(name)?;
        let record = to_json(&StoredToken {
            name: name.to_owned(),
            created_on: today_utc(),
            totp: totp_sealed.map(|sealed| TotpRecord {
                sealed,
                last_step: 0,
            }),
        })?;
        let commit = self.commit_guard();
        let t = &self.trees;
        let result = (&t.tokens, &t.token_names).transaction(
            |(tokens, names)| -> ConflictableTransactionResult<(), StoreError> {
                if names.get(name)?.is_some() {
                    return Err(abort(StoreError::Invalid(format!(
                        "a token named {name:?} already exists"
                    ))));
                }
                if tokens.get(token_hash)?.is_some() {
                    return Err(abort(StoreError::Invalid(
                        "this token is already registered under another name".into(),
                    )));
                }
                tokens.insert(&token_hash[..], record.clone())?;
                names.insert(name.as_bytes(), &token_hash[..])?;
                Ok(())
            },
        );
        drop(commit);
        self.tx_result(result)?;
        self.sync()
    }

    pub(super) fn list_tokens_impl(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut out = Vec::new();
        for value in self.trees.tokens.iter().values() {
            let t: StoredToken = from_json(&value?, "tokens")?;
            out.push(TokenInfo {
                name: t.name,
                created_on: t.created_on,
                totp: t.totp.is_some(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) fn revoke_token_impl(&self, name: &str) -> Result<(), StoreError> {
        self.writable()?;
        let commit = self.commit_guard();
        let t = &self.trees;
        let result = (&t.tokens, &t.token_names).transaction(
            |(tokens, names)| -> ConflictableTransactionResult<(), StoreError> {
                let Some(hash) = names.remove(name.as_bytes())? else {
                    return Err(abort(StoreError::NotFound));
                };
                tokens.remove(hash)?;
                Ok(())
            },
        );
        drop(commit);
        self.tx_result(result)?;
        self.sync()
    }

    pub(super) fn token_name_impl(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<String>, StoreError> {
        match self.trees.tokens.get(token_hash)? {
            Some(value) => Ok(Some(from_json::<StoredToken>(&value, "tokens")?.name)),
            None => Ok(None),
        }
    }

    pub(super) fn token_auth_impl(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<TokenAuth>, StoreError> {
        match self.trees.tokens.get(token_hash)? {
            Some(value) => {
                let t: StoredToken = from_json(&value, "tokens")?;
                Ok(Some(TokenAuth {
                    name: t.name,
                    totp: t.totp,
                }))
            }
            None => Ok(None),
        }
    }

    pub(super) fn set_token_totp_impl(
        &self,
        name: &str,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let commit = self.commit_guard();
        let t = &self.trees;
        let result = (&t.tokens, &t.token_names).transaction(
            |(tokens, names)| -> ConflictableTransactionResult<(), StoreError> {
                match names.get(name.as_bytes())? {
                    Some(hash) if hash.as_ref() == token_hash.as_slice() => {}
                    _ => return Err(abort(StoreError::NotFound)),
                }
                let Some(value) = tokens.get(token_hash)? else {
                    return Err(abort(StoreError::NotFound));
                };
                let mut record: StoredToken = from_json(&value, "tokens").map_err(abort)?;
                record.totp = totp_sealed.clone().map(|sealed| TotpRecord {
                    sealed,
                    last_step: 0,
                });
                tokens.insert(&token_hash[..], to_json(&record).map_err(abort)?)?;
                Ok(())
            },
        );
        drop(commit);
        self.tx_result(result)?;
        self.sync()
    }

    pub(super) fn accept_totp_step_impl(
        &self,
        token_hash: &[u8; 32],
        step: u64,
    ) -> Result<bool, StoreError> {
        self.writable()?;
        let commit = self.commit_guard();
        let result = self.trees.tokens.transaction(
            |tokens| -> ConflictableTransactionResult<bool, StoreError> {
                let Some(value) = tokens.get(token_hash)? else {
                    return Err(abort(StoreError::NotFound));
                };
                let mut record: StoredToken = from_json(&value, "tokens").map_err(abort)?;
                let Some(totp) = record.totp.as_mut() else {
                    return Err(abort(StoreError::NotFound));
                };
                if step <= totp.last_step {
                    return Ok(false);
                }
                totp.last_step = step;
                tokens.insert(&token_hash[..], to_json(&record).map_err(abort)?)?;
                Ok(true)
            },
        );
        drop(commit);
        let accepted = self.tx_result(result)?;
        if accepted {
            // A step a crash could forget would let its code be used twice.
            self.sync()?;
        }
        Ok(accepted)
    }

    pub(super) fn digest_state_impl(&self) -> Result<DigestState, StoreError> {
        match self.trees.meta.get(META_DIGEST)? {
            Some(v) => from_json(&v, "meta digest"),
            None => Ok(DigestState::default()),
        }
    }

    pub(super) fn set_digest_state_impl(&self, state: &DigestState) -> Result<(), StoreError> {
        self.writable()?;
        if !state.sent_on.is_empty() {
            check_date("digest sent_on", &state.sent_on)?;
        }
        let value = to_json(state)?;
        let commit = self.commit_guard();
        let result = self.trees.meta.insert(META_DIGEST, value);
        drop(commit);
        result?;
        self.sync()
    }

    pub(super) fn audit_impl(
        &self,
        actor: &str,
        action: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let on = today_utc();
        let commit = self.commit_guard();
        let t = &self.trees;
        let result = (&t.meta, &t.audit).transaction(
            |(meta, audit)| -> ConflictableTransactionResult<(), StoreError> {
                let last = match meta.get(META_LAST_AUDIT)? {
                    Some(v) => read_u64(&v, "meta last_audit_seq").map_err(abort)?,
                    None => 0,
                };
                let entry = AuditEntry {
                    seq: last + 1,
                    on: on.clone(),
                    actor: actor.to_owned(),
                    action: action.to_owned(),
                    detail: detail.to_owned(),
                };
                audit.insert(&seq_key(entry.seq), to_json(&entry).map_err(abort)?)?;
                meta.insert(META_LAST_AUDIT, &seq_key(entry.seq))?;
                Ok(())
            },
        );
        drop(commit);
        self.tx_result(result)?;
        self.sync()
    }

    pub(super) fn audit_log_impl(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out = Vec::new();
        for value in self.trees.audit.iter().values() {
            out.push(from_json(&value?, "audit")?);
        }
        Ok(out)
    }

    pub(super) fn spend_pow_impl(
        &self,
        id: [u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.writable()?;
        if expires_at <= now {
            return Ok(false);
        }
        // Transactions cannot scan, so find expired ids first; removing one
        // that a concurrent call already pruned is harmless.
        let mut expired = Vec::new();
        for key in self
            .trees
            .pow_expiry
            .range(..seq_key(now.saturating_add(1)))
            .keys()
            .take(POW_PRUNE_BATCH)
        {
            expired.push(key?);
        }
        let commit = self.commit_guard();
        let t = &self.trees;
        let result = (&t.pow_spent, &t.pow_expiry).transaction(
            |(spent, expiry)| -> ConflictableTransactionResult<bool, StoreError> {
                for key in &expired {
                    expiry.remove(key)?;
                    if key.len() == 24 {
                        spent.remove(&key[8..])?;
                    }
                }
                if spent.get(id)?.is_some() {
                    return Ok(false);
                }
                spent.insert(&id[..], &seq_key(expires_at))?;
                expiry.insert(&pow_expiry_key(expires_at, &id)[..], &[] as &[u8])?;
                Ok(true)
            },
        );
        drop(commit);
        let first_use = self.tx_result(result)?;
        if first_use {
            // A spend that a crash could undo would let one solution be
            // used twice.
            self.sync()?;
        }
        Ok(first_use)
    }

    /// How many spent challenge ids are remembered (for tests and metrics).
    pub fn pow_ids_remembered(&self) -> usize {
        self.trees.pow_spent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_must_be_short_and_printable() {
        check_token_name("siti").unwrap();
        check_token_name("Desk 2 (Budi)").unwrap();
        for bad in ["", " lead", "trail ", "tab\there", &"x".repeat(65)] {
            assert!(check_token_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn expiry_keys_sort_by_expiry_first() {
        let early = pow_expiry_key(100, &[0xff; 16]);
        let late = pow_expiry_key(101, &[0x00; 16]);
        assert!(early < late);
        assert!(early.as_slice() < seq_key(101).as_slice());
        assert!(late.as_slice() > seq_key(101).as_slice());
    }
}
