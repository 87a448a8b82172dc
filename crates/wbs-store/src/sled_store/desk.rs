//! What the desk side needs besides cases: investigator tokens, the audit
//! log, and the spent proof-of-work challenge ids.

use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionResult;
use sled::Transactional;

use super::{SledStore, META_DIGEST, META_LAST_AUDIT};
use crate::codec::{abort, from_json, read_u64, seq_key, to_json, StoredToken};
use crate::error::StoreError;
use crate::records::{
    hex32, AuditEntry, DigestState, SessionRecord, TokenAuth, TokenInfo, TotpRecord,
};
use crate::types::{Day, TokenName};

/// How many expired challenge ids one `spend_pow` call prunes at most, so
/// that a backlog never makes a single submission slow.
const POW_PRUNE_BATCH: usize = 1000;

/// A stored token name as a [`TokenName`]; one that breaks the rule is
/// damage (every way in checks it).
fn token_name(name: &str) -> Result<TokenName, StoreError> {
    TokenName::parse(name)
        .map_err(|_| StoreError::Corrupt(format!("tokens: {name:?} is not a token name")))
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
        name: &TokenName,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let name = name.as_str();
        let record = to_json(&StoredToken {
            name: name.to_owned(),
            created_on: Day::today(),
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
                name: token_name(&t.name)?,
                created_on: t.created_on,
                totp: t.totp.is_some(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) fn revoke_token_impl(&self, name: &TokenName) -> Result<(), StoreError> {
        self.writable()?;
        let name = name.as_str();
        let commit = self.commit_guard();
        let t = &self.trees;
        let result = (&t.tokens, &t.token_names).transaction(
            |(tokens, names)| -> ConflictableTransactionResult<[u8; 32], StoreError> {
                let Some(hash) = names.remove(name.as_bytes())? else {
                    return Err(abort(StoreError::NotFound));
                };
                tokens.remove(hash.clone())?;
                let hash: [u8; 32] = hash.as_ref().try_into().map_err(|_| {
                    abort(StoreError::Corrupt(
                        "token_names: a hash is not 32 bytes".into(),
                    ))
                })?;
                Ok(hash)
            },
        );
        drop(commit);
        let hash = self.tx_result(result)?;
        // Its desk sessions end with it (the server checks the token on
        // every request too; this keeps no dead session around).
        self.end_sessions_of(&hash)?;
        self.sync()
    }

    pub(super) fn token_auth_impl(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<TokenAuth>, StoreError> {
        match self.trees.tokens.get(token_hash)? {
            Some(value) => {
                let t: StoredToken = from_json(&value, "tokens")?;
                Ok(Some(TokenAuth {
                    name: token_name(&t.name)?,
                    totp: t.totp,
                }))
            }
            None => Ok(None),
        }
    }

    pub(super) fn set_token_totp_impl(
        &self,
        name: &TokenName,
        token_hash: [u8; 32],
        totp_sealed: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let name = name.as_str();
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
        let on = Day::today();
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
                    on,
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

    pub(super) fn audit_log_impl(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out = Vec::new();
        let Some(from) = after.checked_add(1) else {
            return Ok(out);
        };
        for value in self.trees.audit.range(seq_key(from)..).values().take(limit) {
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

    pub(super) fn session_create_impl(
        &self,
        id_hash: [u8; 32],
        session: &SessionRecord,
        now: u64,
        per_name: usize,
        max_total: usize,
    ) -> Result<bool, StoreError> {
        self.writable()?;
        // Sessions are few (SESSIONS_MAX in the server): read them all,
        // decide, then write in one transaction, one opening at a time (two
        // logins deciding on the same read would both pass the caps).
        let _one_at_a_time = self
            .session_opening
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut live: Vec<(sled::IVec, StoredSession)> = Vec::new();
        let mut dead: Vec<sled::IVec> = Vec::new();
        for item in self.trees.sessions.iter() {
            let (key, value) = item?;
            let s: StoredSession = from_json(&value, "sessions")?;
            if s.alive(now) {
                live.push((key, s));
            } else {
                dead.push(key);
            }
        }
        let mut own: Vec<&(sled::IVec, StoredSession)> = live
            .iter()
            .filter(|(_, s)| s.name == session.name.as_str())
            .collect();
        own.sort_by_key(|(_, s)| s.expires_at);
        let evict: Vec<sled::IVec> = own
            .iter()
            .take((own.len() + 1).saturating_sub(per_name.max(1)))
            .map(|(k, _)| k.clone())
            .collect();
        if live.len() - evict.len() >= max_total {
            return Ok(false);
        }
        let value = to_json(&StoredSession::from(session))?;
        let commit = self.commit_guard();
        let result = self.trees.sessions.transaction(
            |tx| -> ConflictableTransactionResult<(), StoreError> {
                for key in dead.iter().chain(&evict) {
                    tx.remove(key)?;
                }
                tx.insert(&id_hash[..], value.clone())?;
                Ok(())
            },
        );
        drop(commit);
        self.tx_result(result)?;
        self.sync()?;
        Ok(true)
    }

    pub(super) fn session_get_impl(
        &self,
        id_hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(value) = self.trees.sessions.get(id_hash)? else {
            return Ok(None);
        };
        let stored: StoredSession = from_json(&value, "sessions")?;
        if !stored.alive(now) {
            self.session_delete_impl(id_hash)?;
            return Ok(None);
        }
        stored.record().map(Some)
    }

    pub(super) fn session_touch_impl(
        &self,
        id_hash: &[u8; 32],
        now: u64,
        idle_secs: u64,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let commit = self.commit_guard();
        let result = self.trees.sessions.transaction(
            |tx| -> ConflictableTransactionResult<(), StoreError> {
                let Some(value) = tx.get(id_hash)? else {
                    return Ok(());
                };
                let mut s: StoredSession = from_json(&value, "sessions").map_err(abort)?;
                if !s.alive(now) {
                    return Ok(());
                }
                s.idle_until = now.saturating_add(idle_secs).min(s.expires_at);
                tx.insert(&id_hash[..], to_json(&s).map_err(abort)?)?;
                Ok(())
            },
        );
        drop(commit);
        self.tx_result(result)
    }

    pub(super) fn session_delete_impl(&self, id_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.writable()?;
        let commit = self.commit_guard();
        let result = self.trees.sessions.remove(id_hash);
        drop(commit);
        result?;
        self.sync()
    }

    /// Ends every session opened with `token_hash` (its token was revoked).
    fn end_sessions_of(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        for item in self.trees.sessions.iter() {
            let (key, value) = item?;
            let s: StoredSession = from_json(&value, "sessions")?;
            if s.token_hash == *token_hash {
                self.trees.sessions.remove(key)?;
            }
        }
        Ok(())
    }

    pub(super) fn try_lease_impl(
        &self,
        name: &str,
        holder: &str,
        ttl_secs: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.writable()?;
        let commit = self.commit_guard();
        let result = self.trees.leases.transaction(
            |tx| -> ConflictableTransactionResult<bool, StoreError> {
                if let Some(value) = tx.get(name.as_bytes())? {
                    let lease: StoredLease = from_json(&value, "leases").map_err(abort)?;
                    if lease.holder != holder && now < lease.until {
                        return Ok(false);
                    }
                }
                let lease = StoredLease {
                    holder: holder.to_owned(),
                    until: now.saturating_add(ttl_secs),
                };
                tx.insert(name.as_bytes(), to_json(&lease).map_err(abort)?)?;
                Ok(true)
            },
        );
        drop(commit);
        let taken = self.tx_result(result)?;
        if taken {
            self.sync()?;
        }
        Ok(taken)
    }

    /// How many spent challenge ids are remembered (for tests and metrics).
    pub fn pow_ids_remembered(&self) -> usize {
        self.trees.pow_spent.len()
    }
}

/// A desk session as stored (see [`SessionRecord`]); hashes as hex.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredSession {
    name: String,
    #[serde(with = "hex32")]
    token_hash: [u8; 32],
    #[serde(with = "hex32")]
    csrf: [u8; 32],
    idle_until: u64,
    expires_at: u64,
}

impl StoredSession {
    fn alive(&self, now: u64) -> bool {
        now < self.idle_until && now < self.expires_at
    }

    fn record(&self) -> Result<SessionRecord, StoreError> {
        Ok(SessionRecord {
            name: TokenName::parse(&self.name)
                .map_err(|_| StoreError::Corrupt("sessions: a name is not a token name".into()))?,
            token_hash: self.token_hash,
            csrf: self.csrf,
            idle_until: self.idle_until,
            expires_at: self.expires_at,
        })
    }
}

impl From<&SessionRecord> for StoredSession {
    fn from(s: &SessionRecord) -> Self {
        StoredSession {
            name: s.name.to_string(),
            token_hash: s.token_hash,
            csrf: s.csrf,
            idle_until: s.idle_until,
            expires_at: s.expires_at,
        }
    }
}

/// A lease as stored: who holds it, until when (Unix seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredLease {
    holder: String,
    until: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_keys_sort_by_expiry_first() {
        let early = pow_expiry_key(100, &[0xff; 16]);
        let late = pow_expiry_key(101, &[0x00; 16]);
        assert!(early < late);
        assert!(early.as_slice() < seq_key(101).as_slice());
        assert!(late.as_slice() > seq_key(101).as_slice());
    }
}
