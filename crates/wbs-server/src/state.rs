//! The state every handler shares.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::Semaphore;
use wbs_protocol::api::{ConfigResponse, Limits, PowSettings, StatusLabel};
use wbs_protocol::header::Stanzas;
use wbs_protocol::keys::RecipientKind;
use wbs_protocol::Status;
use wbs_store::Store;

use crate::config::Settings;
use crate::error::ApiError;
use crate::limits::RateLimits;
use crate::pow::{Claims, PowIssuer};

/// Exports streamed at once; more are answered 429 (an inspectorate has a
/// few investigators, and a pull takes seconds).
pub const MAX_CONCURRENT_EXPORTS: usize = 4;

/// Uploads reading their `meta` part at once; more wait their turn, first
/// come, first served. Reading `meta` comes before the proof of work is
/// checked, so it takes no upload slot (a flood of junk would take them
/// all); this bounds instead the memory such requests hold in the
/// multipart parser (at most [`crate::guard::MAX_UNCONSUMED`] each).
pub const META_READERS: usize = 64;

/// Shared by all handlers.
pub struct AppState {
    /// The settings the server started with.
    pub settings: Settings,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The inspectorate recipients, as `age1…` or `age1pq1…` strings.
    pub recipients: Vec<String>,
    /// Their kind: a deployment is all-classic or all-post-quantum.
    pub recipient_kind: RecipientKind,
    /// Whether the demo key is among them.
    pub demo_key: bool,
    /// Proof-of-work.
    pub pow: PowIssuer,
    /// Challenges being redeemed or spent, in memory.
    pub claims: Claims,
    /// Server-wide rate limits.
    pub rates: RateLimits,
    /// Upload slots, taken when a proof of work is redeemed.
    pub uploads: Arc<Semaphore>,
    /// Turns at reading a `meta` part ([`META_READERS`]).
    pub meta_readers: Semaphore,
    /// Export slots: each export holds a storage thread while its client
    /// reads, so a few stalled pulls must not take them all.
    pub exports: Arc<Semaphore>,
    /// The config answer, computed once.
    pub config: ConfigResponse,
    /// The cursor of the desk's last export, for "what is new".
    pub last_export: AtomicU64,
    /// The desk pages' sessions.
    pub sessions: crate::handlers::session::Sessions,
    /// The desk pages' login budget.
    pub login_budget: crate::handlers::session::LoginBudget,
    /// The deadline rules of the desk overview.
    pub deadline_policy: wbs_casebook::Policy,
    /// Resumable uploads being received or waiting to be named.
    pub staging: Arc<crate::resumable::Staging>,
    /// This instance's name for the store's leases: random, drawn at
    /// start, so that of several instances on one store a periodic job
    /// (retention, the daily digest) runs on one only.
    pub instance: String,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        recipients: Vec<wbs_protocol::keys::Recipient>,
        demo_key: bool,
    ) -> Self {
        let recipient_kind = recipients
            .first()
            .map_or(RecipientKind::Classic, |r| r.kind());
        let recipients: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
        let l = &settings.limits;
        let config = ConfigResponse {
            organization: settings.organization.clone(),
            recipients: recipients.clone(),
            categories: settings.api_categories(),
            intro: settings.intro.clone(),
            limits: Limits {
                max_object_bytes: l.max_object_bytes,
                max_request_bytes: l.max_request_bytes,
                max_attachments: l.max_attachments,
            },
            pow: PowSettings {
                difficulty: settings.pow.difficulty,
            },
            statuses: Status::ALL.iter().map(|s| StatusLabel::of(*s)).collect(),
        };
        AppState {
            pow: PowIssuer::new(settings.pow.difficulty, settings.pow.ttl_secs),
            claims: Claims::default(),
            rates: RateLimits::new(&settings.limits),
            meta_readers: Semaphore::new(META_READERS),
            uploads: Arc::new(Semaphore::new(
                settings.limits.max_concurrent_uploads as usize,
            )),
            exports: Arc::new(Semaphore::new(MAX_CONCURRENT_EXPORTS)),
            last_export: AtomicU64::new(0),
            sessions: crate::handlers::session::Sessions::new(&settings.desk_session),
            login_budget: crate::handlers::session::LoginBudget::new(
                &settings.desk_session,
                std::time::Instant::now(),
            ),
            deadline_policy: wbs_casebook::Policy::default(),
            staging: Arc::new(crate::resumable::Staging::new(
                &settings.uploads,
                &settings.data,
            )),
            instance: {
                let mut id = [0u8; 16];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
                wbs_protocol::hex(&id)
            },
            settings,
            store,
            recipients,
            recipient_kind,
            demo_key,
            config,
        }
    }

    /// What a report, follow-up or attachment must be encrypted to: every
    /// inspectorate recipient, with stanzas of the deployment's kind.
    pub fn object_stanzas(&self) -> Stanzas {
        Stanzas::exactly(self.recipients.len()).of(self.recipient_kind)
    }

    /// What a reply may be encrypted to (PROTOCOL.md §5).
    pub fn reply_stanzas(&self) -> Stanzas {
        Stanzas::reply(self.recipients.len()).of(self.recipient_kind)
    }

    /// Runs a storage call on the blocking pool.
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(ApiError::internal)?
    }
}

/// The state as handlers receive it.
pub type SharedState = Arc<AppState>;
