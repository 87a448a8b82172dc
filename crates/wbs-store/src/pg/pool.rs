//! A small pool of PostgreSQL connections: the store is called from many
//! blocking threads at once, and a connection serves one at a time.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use super::tls::RustlsConnect;
use crate::error::StoreError;

/// At most this many connections per store (per server instance). Every
/// call holds one only while it runs; a blob being uploaded holds one for
/// the length of a large upload (its chunks go into one transaction).
pub(crate) const MAX_CONNECTIONS: usize = 32;

/// How long a call waits for a free connection before failing.
const WAIT: Duration = Duration::from_secs(60);

pub(crate) struct Pool {
    config: Config,
    /// `None`: no TLS (a Unix socket or loopback; see `tls.rs`).
    tls: Option<RustlsConnect>,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<Client>,
    /// Connections handed out or idle.
    open: usize,
}

impl Pool {
    pub(crate) fn new(config: Config, tls: Option<RustlsConnect>) -> Pool {
        Pool {
            config,
            tls,
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection of its own, outside the pool (a snapshot keeps one in
    /// a transaction for as long as it lives).
    pub(crate) fn connect(&self) -> Result<Client, StoreError> {
        let connected = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        connected.map_err(|e| {
            StoreError::Backend(format!("cannot connect to the database: {}", describe(&e)))
        })
    }

    pub(crate) fn get(self: &Arc<Self>) -> Result<Conn, StoreError> {
        let mut state = self.lock();
        loop {
            while let Some(client) = state.idle.pop() {
                if client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Conn {
                    pool: self.clone(),
                    client: Some(client),
                });
            }
            if state.open < MAX_CONNECTIONS {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(client) => Ok(Conn {
                        pool: self.clone(),
                        client: Some(client),
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let (s, timeout) = self
                .freed
                .wait_timeout(state, WAIT)
                .unwrap_or_else(|e| e.into_inner());
            state = s;
            if timeout.timed_out() && state.idle.is_empty() && state.open >= MAX_CONNECTIONS {
                return Err(StoreError::Backend(
                    "every database connection stayed busy for a minute".into(),
                ));
            }
        }
    }

    fn put(&self, client: Client) {
        let mut state = self.lock();
        if client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(client);
        }
        drop(state);
        self.freed.notify_one();
    }
}

/// A connection borrowed from the pool; back into it when dropped.
pub(crate) struct Conn {
    pool: Arc<Pool>,
    client: Option<Client>,
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("until dropped")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.pool.put(client);
        }
    }
}

/// A database error in words for the operator's log: the server's message
/// and code where there is one. (Never the connection string: it may hold
/// a password.)
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            // The driver's message names the kind ("error performing TLS
            // handshake"); the cause (why the certificate was refused) is
            // in the chain below it.
            let mut out = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !out.ends_with(&cause_text) {
                    out.push_str(": ");
                    out.push_str(&cause_text);
                }
                source = cause.source();
            }
            out
        }
    }
}
