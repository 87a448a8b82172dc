//! Retention: closed cases are deleted, blobs included, a configurable
//! number of days after their last status change. Every deletion is audited.

use std::time::Duration;

use tokio::sync::watch;
use wbs_store::Store;

use crate::state::SharedState;

/// Deletes closed cases whose last status change is `days` or more days
/// before `today` (days since the epoch). Returns the deleted case ids.
pub fn sweep(
    store: &dyn Store,
    days: u32,
    today: i64,
) -> Result<Vec<String>, wbs_store::StoreError> {
    let mut deleted = Vec::new();
    if days == 0 {
        return Ok(deleted);
    }
    for case in store.all_cases()? {
        if !case.status.is_closed() {
            continue;
        }
        let last = case
            .history
            .last()
            .map(|(_, on)| on.unix_days())
            .unwrap_or(today);
        if today - last >= i64::from(days) {
            store.delete_case(&case.id)?;
            store.audit(
                "retention",
                "delete_case",
                &format!(
                    "case={} status={} closed_on={}",
                    case.id,
                    case.status,
                    wbs_protocol::date::date_from_unix_days(last)
                ),
            )?;
            deleted.push(case.id.into());
        }
    }
    Ok(deleted)
}

/// The lease that lets one instance of several on a store sweep: held for
/// two sweep intervals, renewed by every sweep of its holder. When the
/// holder stops, the lease runs out two hours after its last sweep and
/// another instance takes over at its next hourly check: at most three
/// hours after that last sweep.
pub const LEASE: &str = "retention";
const LEASE_SECS: u64 = 2 * 3600;

/// Sweeps once at start and then every hour, until shutdown; with several
/// instances on one store, only the one holding [`LEASE`] sweeps.
pub async fn run(app: SharedState, mut shutdown: watch::Receiver<bool>) {
    let days = app.settings.retention.closed_case_days;
    if days == 0 {
        return;
    }
    loop {
        let store = app.store.clone();
        let holder = app.instance.clone();
        let result = tokio::task::spawn_blocking(move || {
            let now = crate::handlers::session::unix_now();
            if !store.try_lease(LEASE, &holder, LEASE_SECS, now)? {
                return Ok(None);
            }
            sweep(store.as_ref(), days, wbs_protocol::date::today_days()).map(Some)
        })
        .await;
        match result {
            Ok(Ok(None)) => {
                tracing::debug!("retention: another instance holds the lease; not sweeping")
            }
            Ok(Ok(Some(deleted))) if !deleted.is_empty() => {
                tracing::info!("retention: deleted {} closed cases", deleted.len())
            }
            Ok(Err(e)) => tracing::error!("retention sweep failed: {e}"),
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
