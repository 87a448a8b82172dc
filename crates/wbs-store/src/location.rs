//! Where a store is, and opening it: the one place that decides which
//! backend serves a [`StoreLocation`].

use std::fmt;
use std::io::Read;
use std::path::PathBuf;

use crate::dump::StoreRecords;
use crate::error::StoreError;
use crate::pg::PgStore;
use crate::sled_store::SledStore;
use crate::store::Store;
use crate::types::BlobId;

/// Where a store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded default: sled and blob files in a data directory.
    Sled {
        /// The data directory.
        data: PathBuf,
    },
    /// A PostgreSQL database, shared by any number of server instances.
    Postgres {
        /// A libpq connection string (`host=... user=... dbname=...`) or
        /// URL (`postgresql://user@host/db`). Never printed with its
        /// password: `Debug` and `Display` redact it.
        url: String,
    },
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sled { data } => f.debug_struct("Sled").field("data", data).finish(),
            StoreLocation::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &redact(url))
                .finish(),
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sled { data } => write!(f, "{}", data.display()),
            StoreLocation::Postgres { url } => write!(f, "PostgreSQL {}", redact(url)),
        }
    }
}

/// A connection string with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    for scheme in ["postgresql://", "postgres://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (authority, tail) = match rest.find(['/', '?']) {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => match user_info.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => authority.to_owned(),
                },
                None => authority.to_owned(),
            };
            // A password can also come as a query parameter.
            let tail = redact_pairs(tail, '&');
            return format!("{scheme}{authority}{tail}");
        }
    }
    redact_pairs(url, ' ')
}

/// Replaces the value of every `password=` pair in `s` (pairs split by
/// `sep`; in key=value strings a quoted value may hold spaces).
fn redact_pairs(s: &str, sep: char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("password") {
        let (before, from) = rest.split_at(i);
        let at_start = before.is_empty()
            || before.ends_with(sep)
            || before.ends_with('?')
            || before.ends_with(char::is_whitespace);
        let after_key = from["password".len()..].trim_start();
        if !at_start || !after_key.starts_with('=') {
            out.push_str(before);
            out.push_str("password");
            rest = &from["password".len()..];
            continue;
        }
        out.push_str(before);
        out.push_str("password=***");
        let value = after_key[1..].trim_start();
        rest = if let Some(quoted) = value.strip_prefix('\'') {
            // Up to the closing quote that is not escaped.
            let mut end = quoted.len();
            let mut escaped = false;
            for (j, c) in quoted.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '\'' if !escaped => {
                        end = j + 1;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            &quoted[end..]
        } else {
            match value.find(|c: char| c == sep || c.is_whitespace()) {
                Some(j) => &value[j..],
                None => "",
            }
        };
    }
    out.push_str(rest);
    out
}

/// Opens the store at `location`, creating it if there is none yet: a new
/// data directory for sled, the schema in an empty database for
/// PostgreSQL (whose migrations are applied here, and which is refused,
/// naming both versions, if its schema is newer than this binary).
pub fn open(location: &StoreLocation) -> Result<Box<dyn Store>, StoreError> {
    Ok(match location {
        StoreLocation::Sled { data } => Box::new(SledStore::create_or_open(data)?),
        StoreLocation::Postgres { url } => Box::new(PgStore::open(url)?),
    })
}

/// Opens the store at `location`, which must exist already (for sled: a
/// data directory with its marker; for PostgreSQL: a database that holds
/// the WBS schema). For tools that must not create a store by mistake.
pub fn open_existing(location: &StoreLocation) -> Result<Box<dyn Store>, StoreError> {
    Ok(match location {
        StoreLocation::Sled { data } => Box::new(SledStore::open(data)?),
        StoreLocation::Postgres { url } => Box::new(PgStore::open_existing(url)?),
    })
}

/// A restore in progress into a new store (see [`restore`]).
pub trait RestoreTarget: Send {
    /// The records being restored.
    fn records(&self) -> &StoreRecords;
    /// Writes blob `id` from `data`, after checking its bytes against the
    /// size and SHA-256 its object records give ([`StoreError::Corrupt`]
    /// if they differ). A blob no object references, or one written
    /// before, is [`StoreError::Invalid`].
    fn write_blob(&mut self, id: &str, data: &mut dyn Read) -> Result<(), StoreError>;
    /// The blobs not written yet, in object order.
    fn missing_blobs(&self) -> Vec<BlobId>;
    /// Makes the restored store whole (refused while a blob is missing)
    /// and opens it.
    fn finish(self: Box<Self>) -> Result<Box<dyn Store>, StoreError>;
}

/// Starts restoring `records` (which must pass [`StoreRecords::check`])
/// into a new store at `location`: a new or empty data directory, or a
/// database without WBS records. Nothing of it counts as a store until
/// [`RestoreTarget::finish`]: for sled the marker file is written last,
/// for PostgreSQL the whole restore is one transaction.
pub fn restore(
    location: &StoreLocation,
    records: StoreRecords,
) -> Result<Box<dyn RestoreTarget>, StoreError> {
    Ok(match location {
        StoreLocation::Sled { data } => Box::new(SledStore::restore(data, records)?),
        StoreLocation::Postgres { url } => Box::new(PgStore::restore(url, records)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, want) in [
            (
                "postgresql://wbs:s3cret@db.example:5432/wbs?sslmode=disable",
                "postgresql://wbs:***@db.example:5432/wbs?sslmode=disable",
            ),
            ("postgres://wbs@db/wbs", "postgres://wbs@db/wbs"),
            (
                "postgresql://db/wbs?user=wbs&password=s3cret&x=1",
                "postgresql://db/wbs?user=wbs&password=***&x=1",
            ),
            (
                "host=/run/postgresql user=wbs password=s3cret dbname=wbs",
                "host=/run/postgresql user=wbs password=*** dbname=wbs",
            ),
            (
                "host=db password = 'with space\\' s3cret' dbname=wbs",
                "host=db password=*** dbname=wbs",
            ),
        ] {
            assert_eq!(redact(url), want);
            let loc = StoreLocation::Postgres { url: url.into() };
            assert!(!format!("{loc:?} {loc}").contains("s3cret"), "{url}");
        }
    }
}
