//! The WBS server: an anonymous drop box that stores only opaque age files.
//!
//! Reporters' devices encrypt everything before it arrives; the server checks
//! that each object is an age file for the right number of recipients,
//! stores it durably, and answers with nothing secret. Investigators pull
//! encrypted export bundles and push encrypted reply bundles through the desk
//! routes.
//!
//! What it must never do: hold a private key, see plaintext or a receipt
//! code, or record a reporter's IP address, user agent or exact time —
//! not in storage, not in logs. No handler reads the peer address, and the
//! connection loop drops it on accept.
//!
//! Tests start the real server on `127.0.0.1:0` with
//! [`launch_with_tcp_listener`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access;
pub mod admin;
pub mod commands;
pub mod config;
#[cfg(unix)]
pub mod control;
pub mod digest;
pub mod error;
pub mod file_times;
pub mod guard;
pub mod handlers;
pub mod limits;
pub mod linger;
pub mod pow;
pub mod resumable;
pub mod retention;
pub mod routes;
pub mod security;
pub mod state;
pub mod tokens;
pub mod totp;
pub mod upload;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

pub use config::Settings;
use state::{AppState, SharedState};

/// Opens storage and loads recipients: everything that can fail before the
/// server starts listening.
pub fn build_state(settings: Settings) -> Result<SharedState, String> {
    settings.validate()?;
    let (recipients, demo) = config::load_recipients(&settings.recipients)?;
    let policy = match &settings.deadline_policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read deadline_policy {}: {e}", path.display()))?;
            wbs_casebook::Policy::from_toml(&text)
                .map_err(|e| format!("deadline_policy {}: {e}", path.display()))?
        }
        None => wbs_casebook::Policy::default(),
    };
    let store = open_store(&settings)?;
    let last_pull = handlers::overview::last_export_in(
        &store
            .all_audit()
            .map_err(|e| format!("cannot read the audit log: {e}"))?,
    );
    let pow_key = match &settings.pow.key_file {
        Some(path) => Some(pow::load_key(path)?),
        None => {
            if settings.store.database_url.is_some() {
                tracing::warn!(
                    "no [pow] key_file: challenges from this instance work only here; \
                     instances behind one address need the same key file"
                );
            }
            None
        }
    };
    let mut state = AppState::new(settings, store, recipients, demo);
    let leftovers = state.staging.prepare()?;
    if leftovers > 0 {
        tracing::info!("removed {leftovers} unfinished upload(s) left by an earlier run");
    }
    if let Some(key) = pow_key {
        state.pow =
            pow::PowIssuer::with_key(&key, state.pow.difficulty, state.settings.pow.ttl_secs);
    }
    state.deadline_policy = policy;
    *state.last_export.get_mut() = last_pull;
    Ok(Arc::new(state))
}

/// Opens the store the settings name (creating it if there is none yet).
fn open_store(settings: &Settings) -> Result<Arc<dyn wbs_store::Store>, String> {
    let location = settings.location();
    let cannot = |e: wbs_store::StoreError| format!("cannot open storage in {location}: {e}");
    let wbs_store::StoreLocation::Sled { data } = &location else {
        return wbs_store::open(&location).map(Arc::from).map_err(cannot);
    };
    let store = wbs_store::SledStore::create_or_open(data).map_err(cannot)?;
    let leftovers = store.recovered_leftovers();
    if leftovers > 0 {
        tracing::info!("removed {leftovers} unreferenced files left by an interrupted write");
    }
    // Damage outside the server's control (a disk, a careless hand): the
    // cases stay readable except those objects, so serve, but loudly.
    let missing = store.missing_blobs();
    if !missing.is_empty() {
        tracing::error!(
            "{} stored object(s) are missing from {} (the first is blob {}); run \
             `wbs-server verify` to see which cases, and restore them from a backup",
            missing.len(),
            data.join("blobs").display(),
            missing[0]
        );
    }
    Ok(Arc::new(store))
}

/// Largest request head (request line and headers) accepted; a larger one
/// is answered 431 and the connection closed. Browsers send a few KiB.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// Serves `router` on `listener` until `shutdown` fires, then lets requests
/// in flight finish (up to `grace`).
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    app: SharedState,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let limits = &app.settings.limits;
    let connections = Arc::new(Semaphore::new(limits.max_connections as usize));
    let header_timeout = Duration::from_secs(limits.header_timeout_secs);
    let graceful = GracefulShutdown::new();
    let service = hyper_util::service::TowerToHyperService::new(router);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        // The peer address is dropped here, unread: WBS never learns it.
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(64 * 1024)
            // The buffer size alone does not cap the head: a head that
            // arrives in one large read is parsed whole, so a 70 KiB header
            // line got through (tests/tests/hostile_requests.rs,
            // `header_line_over_64_kib`). This answers 431 instead.
            .max_header_size(MAX_REQUEST_HEAD);
        // See `linger`: an early error answer must reach a client that is
        // still sending.
        let stream = linger::Lingering::new(stream);
        let conn = builder.serve_connection(TokioIo::new(stream), service.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after {grace:?}; closing them");
    }
}

/// Runs the server on already-bound listeners until `shutdown` completes.
///
/// `desk_listener`, when given, serves the investigator routes alone, and
/// the main listener then serves only the reporter routes.
pub async fn launch_with_tcp_listener(
    app: SharedState,
    listener: TcpListener,
    desk_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    if app.demo_key {
        tracing::warn!(
            "DEMO KEY IN USE: reports are encrypted to keys/demo-inspectorate.pub, whose private key \
             is public. Anyone can read them. Never use this configuration for real reports."
        );
    }
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let retention = tokio::spawn(retention::run(app.clone(), rx.clone()));
    let file_times = tokio::spawn(file_times::run(app.clone(), rx.clone()));
    // Expires uploads; at shutdown, removes every one (they do not survive
    // a restart).
    let staging = tokio::spawn(resumable::run(app.clone(), rx.clone()));
    // No task at all unless `[digest]` is configured.
    let digest = digest::spawn(&app, app.deadline_policy.clone(), rx.clone())?;
    // On sled, `wbs-server backup`, `verify` and `token` reach the running
    // server through `<data>/control.sock` (sled lets only this process
    // open the store). A database takes those commands' own connections.
    #[cfg(unix)]
    let control = app
        .settings
        .store
        .database_url
        .is_none()
        .then(|| tokio::spawn(control::run(app.clone(), rx.clone())));
    let grace = Duration::from_secs(30);
    let public = routes::public_router(&app);
    let desk = routes::desk_router(&app);
    match desk_listener {
        Some(desk_listener) => {
            let a = serve(
                listener,
                routes::finish(public, app.clone()),
                app.clone(),
                rx.clone(),
                grace,
            );
            let b = serve(
                desk_listener,
                routes::finish(desk.merge(routes::desk_alone_router()), app.clone()),
                app.clone(),
                rx.clone(),
                grace,
            );
            tokio::join!(a, b);
        }
        None => {
            let both = routes::finish(public.merge(desk), app.clone());
            serve(listener, both, app.clone(), rx.clone(), grace).await;
        }
    }
    retention.abort();
    file_times.abort();
    let _ = staging.await;
    if let Some(digest) = digest {
        digest.abort();
    }
    #[cfg(unix)]
    if let Some(control) = control {
        let _ = control.await;
    }
    // The last files of the day keep no exact ctime on a stopped server.
    file_times::sweep_once(&app).await;
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || store.flush())
        .await
        .map_err(|e| format!("final flush failed: {e}"))?
        .map_err(|e| format!("final flush failed: {e}"))?;
    tracing::info!("stopped; storage flushed");
    Ok(())
}
