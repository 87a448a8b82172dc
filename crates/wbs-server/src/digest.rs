//! The daily digest by e-mail: how many new reports and follow-ups arrived
//! since the last digest, and how many cases are due soon or overdue.
//!
//! What it never says: a case id, a category, a size, a date or a time of
//! arrival. Its timing says nothing either: it is sent once a day during
//! the configured UTC hour (`[digest] hour_utc`), whatever happened, also
//! when everything is 0, and its `Date` header is that hour on the dot.
//! A server that is down for the whole hour sends none that day; the next
//! one counts from the last one sent. With no `[digest]` section there is
//! no task and no connection at all.
//!
//! "Since the last digest" is a cursor in the store ([`DigestState`]):
//! the object sequence number the last digest counted up to and the date
//! it was sent (a date, never a time), so a restart neither repeats nor
//! loses a day.
//!
//! Sending runs in its own task and never holds anything the drop box
//! needs: the counts are taken on the blocking pool, the message goes out
//! over SMTP with STARTTLS or TLS (rustls; never in clear), and a failure
//! is logged without the password, the addresses' secrets or the counts,
//! and retried a few times with growing pauses within the hour.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;
use wbs_casebook::{clocks, Day, Policy};
use wbs_store::{DigestState, ObjectKind, Store, StoreError};
use zeroize::Zeroizing;

use crate::config::{DigestSettings, SmtpTls};
use crate::handlers::overview::facts_of;
use crate::state::SharedState;

/// Pauses between attempts after a failure (all within the hour).
const RETRY_PAUSES: [Duration; 3] = [
    Duration::from_secs(60),
    Duration::from_secs(4 * 60),
    Duration::from_secs(15 * 60),
];

/// Longest an SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// What a digest says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Reports stored since the last digest.
    pub new_reports: u64,
    /// Follow-ups from reporters stored since the last digest.
    pub new_followups: u64,
    /// Open cases with a clock due within the policy's "due soon" margin
    /// (and none overdue).
    pub due_soon: u64,
    /// Cases with a clock past its last day.
    pub overdue: u64,
}

/// Counts what arrived after object `since` (up to and including `upto`)
/// and how the cases' clocks stand on `today`.
pub fn count(
    store: &dyn Store,
    policy: &Policy,
    since: u64,
    upto: u64,
    today: Day,
) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    for object in store.all_objects_since(since)? {
        if object.seq > upto {
            break;
        }
        match object.kind {
            ObjectKind::Report => counts.new_reports += 1,
            ObjectKind::Followup { .. } => counts.new_followups += 1,
            _ => {}
        }
    }
    // The same facts and the same rule as the desk's overview counts.
    for case in store.all_cases()? {
        let Some(facts) = facts_of(&case) else {
            continue;
        };
        let c = clocks(&facts, policy, today);
        if c.is_overdue() {
            counts.overdue += 1;
        } else if c.is_due_soon() {
            counts.due_soon += 1;
        }
    }
    Ok(counts)
}

/// The subject and body of a digest, Indonesian first, then English.
/// Nothing but the organization's name and the four counts.
pub fn message_text(organization: &str, c: &Counts) -> (String, String) {
    let subject = "WBS: ringkasan harian / daily digest".to_string();
    let body = format!(
        "Ringkasan harian WBS - {organization}\n\
         \n\
         Laporan baru sejak ringkasan terakhir: {}\n\
         Tindak lanjut baru dari pelapor: {}\n\
         Kasus yang segera jatuh tempo: {}\n\
         Kasus yang melewati tenggat: {}\n\
         \n\
         Rinciannya ada di meja investigator.\n\
         \n\
         ----\n\
         WBS daily digest - {organization}\n\
         \n\
         New reports since the last digest: {}\n\
         New follow-ups from reporters: {}\n\
         Cases due soon: {}\n\
         Cases overdue: {}\n\
         \n\
         The details are on the investigators' desk.\n\
         This message is sent every day at the same hour, whatever happened.\n",
        c.new_reports,
        c.new_followups,
        c.due_soon,
        c.overdue,
        c.new_reports,
        c.new_followups,
        c.due_soon,
        c.overdue,
    );
    (subject, body)
}

/// Whether a digest is to be sent at `now_unix`: during the hour
/// `hour_utc`, and not yet today.
pub fn due_now(now_unix: u64, hour_utc: u8, state: &DigestState) -> bool {
    let hour = (now_unix % 86_400) / 3600;
    hour == u64::from(hour_utc) && state.sent_on != Some(today_of(now_unix))
}

/// The start of the next hour `hour_utc` after `now_unix` (today's if it
/// is still ahead, else tomorrow's).
pub fn next_slot(now_unix: u64, hour_utc: u8) -> u64 {
    let day_start = now_unix - now_unix % 86_400;
    let slot = day_start + u64::from(hour_utc) * 3600;
    if slot > now_unix {
        slot
    } else {
        slot + 86_400
    }
}

/// The start of the hour `now_unix` falls in: the digest's `Date`.
fn hour_start(now_unix: u64) -> u64 {
    now_unix - now_unix % 3600
}

fn today_of(now_unix: u64) -> wbs_store::Day {
    wbs_store::Day::from_unix_days((now_unix / 86_400) as i64)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A configured mailer: the SMTP transport and the addresses, checked once
/// at start, so a mistake in `[digest]` stops the server with a clear
/// message instead of failing silently at 07:00.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    hour_utc: u8,
    organization: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer(..)")
    }
}

/// Reads the first line of the password file.
fn read_password(path: &Path) -> Result<Zeroizing<String>, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| format!("digest: cannot read password_file {}: {e}", path.display()))?,
    );
    let line = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('\r');
    if line.is_empty() {
        return Err(format!("digest: password_file {} is empty", path.display()));
    }
    Ok(Zeroizing::new(line.to_owned()))
}

impl Mailer {
    /// Builds the mailer from the settings (reads the CA and password
    /// files). Connects to nothing yet.
    pub fn new(settings: &DigestSettings, organization: &str) -> Result<Mailer, String> {
        let mut tls = TlsParameters::builder(settings.smtp_host.clone());
        if let Some(ca) = &settings.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| format!("digest: cannot read ca_file {}: {e}", ca.display()))?;
            // A file without a certificate would parse as none, and trust nothing.
            if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                return Err(format!(
                    "digest: ca_file {} holds no PEM certificate",
                    ca.display()
                ));
            }
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("digest: ca_file {}: {e}", ca.display()))?;
            tls = tls
                .certificate_store(CertificateStore::None)
                .add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| format!("digest: TLS settings: {e}"))?;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.smtp_host.as_str())
                .port(settings.port())
                .timeout(Some(SMTP_TIMEOUT))
                .tls(match settings.tls {
                    SmtpTls::Starttls => Tls::Required(tls),
                    SmtpTls::Tls => Tls::Wrapper(tls),
                });
        if let (Some(user), Some(file)) = (&settings.username, &settings.password_file) {
            let password = read_password(file)?;
            builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        let mailbox = |a: &String| {
            a.parse::<Mailbox>()
                .map_err(|e| format!("digest: {a:?} is not an e-mail address: {e}"))
        };
        Ok(Mailer {
            transport: builder.build(),
            from: mailbox(&settings.from)?,
            to: settings.to.iter().map(mailbox).collect::<Result<_, _>>()?,
            hour_utc: settings.hour_utc,
            organization: organization.to_owned(),
        })
    }

    /// The message for `counts`, dated `date_unix`.
    pub fn message(&self, counts: &Counts, date_unix: u64) -> Result<Message, String> {
        let (subject, body) = message_text(&self.organization, counts);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .date(UNIX_EPOCH + Duration::from_secs(date_unix))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder.body(body).map_err(|e| e.to_string())
    }

    /// Sends one message; the error says what failed, never the password.
    async fn send(&self, message: Message) -> Result<(), String> {
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// Counts, sends and records one digest, at `now`. `Ok(true)` if sent.
async fn send_one(
    app: &SharedState,
    mailer: &Mailer,
    policy: &Arc<Policy>,
    now: u64,
) -> Result<(), String> {
    let store = app.store.clone();
    let policy = policy.clone();
    let today = Day::from_unix_days((now / 86_400) as i64);
    let (state, upto, counts) = tokio::task::spawn_blocking(move || {
        let state = store.digest_state()?;
        // Read the cursor first: objects committed meanwhile go to the next digest.
        let upto = store.cursor()?;
        let counts = count(store.as_ref(), &policy, state.cursor, upto, today)?;
        Ok::<_, StoreError>((state, upto, counts))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot count for the digest: {e}"))?;
    mailer
        .send(mailer.message(&counts, hour_start(now))?)
        .await?;
    let store = app.store.clone();
    let next = DigestState {
        cursor: upto.max(state.cursor),
        sent_on: Some(today_of(now)),
    };
    tokio::task::spawn_blocking(move || store.set_digest_state(&next))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| {
            format!("the digest was sent but could not be recorded ({e}); tomorrow's may repeat today's")
        })
}

/// Starts the digest task if `[digest]` is configured: `Ok(None)` (and no
/// task, no connection, ever) if it is not; an error for a configuration
/// that cannot work.
pub fn spawn(
    app: &SharedState,
    policy: Policy,
    shutdown: watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let Some(settings) = &app.settings.digest else {
        return Ok(None);
    };
    let mailer = Mailer::new(settings, &app.settings.organization)?;
    tracing::info!(
        "daily digest: every day during the hour {:02}:00 UTC",
        settings.hour_utc
    );
    Ok(Some(tokio::spawn(run(
        app.clone(),
        mailer,
        Arc::new(policy),
        shutdown,
    ))))
}

/// The lease that lets one instance of several on a store send the
/// digest; held for the hour of sending and its retries.
pub const LEASE: &str = "digest";
const LEASE_SECS: u64 = 3600;

/// The digest loop: wakes at the configured hour (and at start), sends if
/// due, retries a few times within the hour, sleeps until the next day's.
async fn run(
    app: SharedState,
    mailer: Mailer,
    policy: Arc<Policy>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0usize;
    loop {
        let now = now_unix();
        let store = app.store.clone();
        let holder = app.instance.clone();
        // Of several instances on one store, the one holding the lease
        // sends; the others see the digest recorded as sent afterwards.
        let state = match tokio::task::spawn_blocking(move || {
            let state = store.digest_state()?;
            let ours = store.try_lease(LEASE, &holder, LEASE_SECS, now)?;
            Ok::<_, StoreError>((state, ours))
        })
        .await
        {
            Ok(Ok((state, true))) => Some(state),
            Ok(Ok((_, false))) => None,
            Ok(Err(e)) => {
                tracing::error!("daily digest: cannot read its state: {e}");
                None
            }
            Err(_) => None,
        };
        let wait = match state {
            Some(state) if due_now(now, mailer.hour_utc, &state) => {
                match send_one(&app, &mailer, &policy, now).await {
                    Ok(()) => {
                        failures = 0;
                        tracing::info!("daily digest sent");
                        Duration::from_secs(next_slot(now_unix(), mailer.hour_utc) - now_unix())
                    }
                    Err(e) => {
                        tracing::warn!("daily digest not sent: {e}");
                        match RETRY_PAUSES.get(failures) {
                            Some(pause) => {
                                failures += 1;
                                *pause
                            }
                            None => {
                                failures = 0;
                                tracing::error!(
                                    "daily digest: giving up for today; the next one will count \
                                     from the last one sent"
                                );
                                Duration::from_secs(
                                    next_slot(now_unix(), mailer.hour_utc) - now_unix(),
                                )
                            }
                        }
                    }
                }
            }
            Some(_) => {
                failures = 0;
                Duration::from_secs(next_slot(now, mailer.hour_utc) - now)
            }
            // The store failed, or another instance holds the lease: look
            // again in a few minutes.
            None => Duration::from_secs(300),
        };
        // Never sleep more than an hour at once, so a changed clock is
        // noticed.
        let wait = wait
            .min(Duration::from_secs(3600))
            .max(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wbs_protocol::Status;
    use wbs_store::{BlobStore, MetaStore, SledStore};

    const DAY: u64 = 86_400;

    #[test]
    fn due_only_during_the_hour_and_once_a_day() {
        // 2026-11-30 is day 20_787.
        let midnight = 20_787 * DAY;
        let never = DigestState::default();
        assert!(!due_now(midnight + 6 * 3600 + 3599, 7, &never));
        assert!(due_now(midnight + 7 * 3600, 7, &never));
        assert!(due_now(midnight + 7 * 3600 + 3599, 7, &never));
        assert!(!due_now(midnight + 8 * 3600, 7, &never));
        let sent_today = DigestState {
            cursor: 5,
            sent_on: Some(today_of(midnight)),
        };
        assert_eq!(sent_today.sent_on.unwrap().to_string(), "2026-11-30");
        assert!(!due_now(midnight + 7 * 3600 + 10, 7, &sent_today));
        assert!(due_now(midnight + DAY + 7 * 3600, 7, &sent_today));
        assert!(due_now(midnight + 30, 0, &never));
    }

    #[test]
    fn the_next_slot_is_today_if_ahead_else_tomorrow() {
        let midnight = 20_787 * DAY;
        assert_eq!(next_slot(midnight, 7), midnight + 7 * 3600);
        assert_eq!(next_slot(midnight + 7 * 3600, 7), midnight + DAY + 7 * 3600);
        assert_eq!(next_slot(midnight + 9 * 3600, 7), midnight + DAY + 7 * 3600);
        assert_eq!(next_slot(midnight + 100, 0), midnight + DAY);
        assert_eq!(hour_start(midnight + 7 * 3600 + 1234), midnight + 7 * 3600);
    }

    fn d(s: &str) -> wbs_store::Day {
        s.parse().unwrap()
    }

    fn blob(store: &SledStore, bytes: &[u8]) -> wbs_store::StagedBlob {
        use std::io::Write;
        let mut sink = store.blob_sink().unwrap();
        sink.write_all(bytes).unwrap();
        sink.finish().unwrap()
    }

    #[test]
    fn counts_arrivals_after_the_cursor_and_cases_by_their_clocks() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::create_or_open(&dir.path().join("data")).unwrap();
        let today = Day::parse("2026-11-30").unwrap();
        let policy = Policy::default();
        let recipient = age::x25519::Identity::generate().to_public().to_string();
        let new_case = |n: u8, on: &str| {
            store
                .create_case([n; 32], &recipient, d(on), blob(&store, &[n]), vec![])
                .unwrap()
        };
        // Long overdue, never acknowledged.
        let old = new_case(1, "2026-01-05");
        let before = store.cursor().unwrap();
        // Arrived today: on time. Two days short of the acknowledge period:
        // due soon.
        let fresh = new_case(2, "2026-11-30");
        let ack_due = policy.acknowledge_by(Day::parse("2026-11-25").unwrap());
        assert!(today.days_until(ack_due) <= i64::from(policy.due_soon_days));
        assert!(today.days_until(ack_due) >= 0);
        new_case(3, "2026-11-25");
        store
            .add_followup(
                &old.id,
                blob(&store, b"f"),
                vec![blob(&store, b"a")],
                d("2026-11-30"),
            )
            .unwrap();
        store
            .add_followup(&fresh.id, blob(&store, b"g"), vec![], d("2026-11-30"))
            .unwrap();
        let upto = store.cursor().unwrap();
        // Committed after the digest read its cursor: the next digest's.
        new_case(4, "2026-11-30");

        let c = count(&store, &policy, before, upto, today).unwrap();
        assert_eq!(
            c,
            Counts {
                new_reports: 2,
                new_followups: 2,
                due_soon: 1,
                overdue: 1
            }
        );
        // A closed case is overdue no more.
        store
            .set_status(&old.id, Status::ClosedUnsubstantiated, d("2026-11-30"))
            .unwrap();
        let c = count(&store, &policy, upto, store.cursor().unwrap(), today).unwrap();
        assert_eq!((c.new_reports, c.new_followups, c.overdue), (1, 0, 0));
    }

    #[test]
    fn the_message_holds_the_counts_and_nothing_else() {
        let c = Counts {
            new_reports: 3,
            new_followups: 1,
            due_soon: 2,
            overdue: 4,
        };
        let (subject, body) = message_text("Inspektorat Kota X", &c);
        assert!(!subject.chars().any(|ch| ch.is_ascii_digit()));
        for line in [
            "New reports since the last digest: 3",
            "New follow-ups from reporters: 1",
            "Cases due soon: 2",
            "Cases overdue: 4",
            "Laporan baru sejak ringkasan terakhir: 3",
        ] {
            assert!(body.contains(line), "{line:?} missing:\n{body}");
        }
        let digits: String = body.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits, "31243124", "only the counts are numbers:\n{body}");
    }

    #[test]
    fn mailer_settings_are_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let settings = |extra: &str| -> DigestSettings {
            toml::from_str(&format!(
                "smtp_host = \"127.0.0.1\"\ntls = \"starttls\"\nfrom = \"wbs@example.org\"\n\
                 to = [\"desk@example.org\"]\n{extra}"
            ))
            .unwrap()
        };
        Mailer::new(&settings(""), "X").unwrap();
        let missing = dir.path().join("nope");
        let err = Mailer::new(
            &settings(&format!(
                "username = \"u\"\npassword_file = {:?}\n",
                missing.display().to_string()
            )),
            "X",
        )
        .unwrap_err();
        assert!(err.contains("password_file"), "{err}");
        let secret = dir.path().join("password");
        std::fs::write(&secret, "hunter2-secret\n").unwrap();
        let ok = Mailer::new(
            &settings(&format!(
                "username = \"u\"\npassword_file = {:?}\n",
                secret.display().to_string()
            )),
            "X",
        )
        .unwrap();
        assert!(!format!("{ok:?}").contains("hunter2"));
        let bad_ca = dir.path().join("ca.pem");
        std::fs::write(&bad_ca, "not a certificate").unwrap();
        assert!(Mailer::new(
            &settings(&format!("ca_file = {:?}\n", bad_ca.display().to_string())),
            "X"
        )
        .is_err());
    }
}
