//! How an operator command reaches the store: the one place that decides.
//!
//! sled locks its database for one process. While a server runs on a data
//! directory, a command (`backup`, `verify`, `token`) therefore goes
//! through that server's control channel ([`crate::control`]), and the
//! server carries the operation out on its own store; with no server
//! running, the command opens the store itself. PostgreSQL takes any
//! number of clients at once, so a command always opens a database store
//! itself, whether instances run on it or not (there is no control channel
//! then). Either way the same operation ([`crate::admin`],
//! [`crate::tokens`]) does the work.

use wbs_store::{SledStore, Store, StoreError, StoreLocation};

#[cfg(unix)]
use crate::control::{ControlClient, ControlError};

/// How a command reaches the store.
pub enum StoreAccess {
    /// A running server holds the store: ask it.
    #[cfg(unix)]
    Running(ControlClient),
    /// This process opened the store.
    Direct(Box<dyn Store>),
}

/// Whether a command may create a store that is not there yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Only an existing store (`backup`, `verify`, `token list|revoke`).
    Existing,
    /// Create an empty store if there is none (`token add`: an operator
    /// may make the first token before the first start). Said loudly, so
    /// that a mistyped `--data` is noticed at once.
    CreateIfMissing,
}

/// Why the store could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The running server's control channel failed.
    #[cfg(unix)]
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The store could not be opened.
    #[error(
        "cannot open storage in {location} ({source}); check --data, --database or the config"
    )]
    Open {
        /// Where (a database's password is never shown).
        location: StoreLocation,
        /// The store's error.
        source: StoreError,
    },
}

/// Reaches the store at `location`: for sled, through the server running
/// on it if there is one, else by opening it; for PostgreSQL, by opening
/// it. `on_note` receives lines for the operator (standard error).
pub fn reach(
    location: &StoreLocation,
    opening: Opening,
    on_note: &mut dyn FnMut(&str),
) -> Result<StoreAccess, AccessError> {
    let open_error = |source| AccessError::Open {
        location: location.clone(),
        source,
    };
    let data = match location {
        StoreLocation::Sled { data } => data,
        StoreLocation::Postgres { .. } => {
            let store = match opening {
                Opening::Existing => wbs_store::open_existing(location),
                Opening::CreateIfMissing => wbs_store::open(location),
            }
            .map_err(open_error)?;
            return Ok(StoreAccess::Direct(store));
        }
    };
    #[cfg(unix)]
    if let Some(client) = ControlClient::connect(data)? {
        on_note("(done by the running server)");
        return Ok(StoreAccess::Running(client));
    }
    let existed = data.join(wbs_store::MARKER_FILE).exists();
    let store = match opening {
        Opening::Existing => SledStore::open(data),
        Opening::CreateIfMissing => SledStore::create_or_open(data),
    }
    .map_err(open_error)?;
    if !existed {
        on_note(&format!(
            "note: there was no store in {}; a new, empty one was created there. If that is not \
             where wbs-server keeps its data, check --data or the config's `data`.",
            data.display()
        ));
    }
    if store.recovered_leftovers() > 0 {
        on_note(&format!(
            "note: removed {} file(s) left by an interrupted write",
            store.recovered_leftovers()
        ));
    }
    Ok(StoreAccess::Direct(Box::new(store)))
}
