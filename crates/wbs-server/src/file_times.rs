//! Keeps the file system from dating each stored object: runs the store's
//! [`blur_file_times`](wbs_store::Store::blur_file_times) sweep at start,
//! every [`SWEEP_EVERY`], and once more at shutdown (see
//! docs/THREAT_MODEL.md §2).

use std::time::Duration;

use tokio::sync::watch;

use crate::state::SharedState;

/// How long the exact inode change time of a new blob file survives at most
/// while the server runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// One sweep on the blocking pool; failures are logged, never fatal (the
/// objects are safe either way, only their `ctime` stays exact).
pub async fn sweep_once(app: &SharedState) {
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || store.blur_file_times()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!("file-time sweep failed: {e}"),
        Err(e) => tracing::warn!("file-time sweep failed: {e}"),
    }
}

/// Sweeps at start and then every [`SWEEP_EVERY`] until shutdown.
pub async fn run(app: SharedState, mut shutdown: watch::Receiver<bool>) {
    loop {
        sweep_once(&app).await;
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}
