//! Server settings: defaults, then a TOML file, then environment variables,
//! then command-line flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wbs_protocol::api::{Category, Localized};

/// Everything the server needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Name shown to reporters.
    pub organization: String,
    /// Address for the reporter-facing routes (and the desk, unless `desk_listen` is set).
    pub listen: SocketAddr,
    /// Optional separate address for the investigator desk routes.
    pub desk_listen: Option<SocketAddr>,
    /// Data directory (the sled store, unless `[store] database_url`).
    pub data: PathBuf,
    /// Where the store is when it is not sled in `data`.
    pub store: StoreSettings,
    /// A `.pub` file or a folder of them.
    pub recipients: PathBuf,
    /// `Onion-Location` header value (the onion address of this site).
    pub onion_location: Option<String>,
    /// Landing page introduction.
    pub intro: Localized,
    /// Report categories.
    pub categories: Vec<CategorySetting>,
    /// Size, rate and time limits.
    pub limits: LimitSettings,
    /// Proof-of-work.
    pub pow: PowSettingsFile,
    /// Retention of closed cases.
    pub retention: RetentionSettings,
    /// Who may use the investigators' desk.
    pub desk: DeskSettings,
    /// The daily digest by e-mail; none unless configured.
    pub digest: Option<DigestSettings>,
    /// The desk pages' sessions and login budget.
    pub desk_session: DeskSessionSettings,
    /// A deadline policy file (the same TOML as the workbench's); the
    /// directive's periods with the shipped holidays when unset.
    pub deadline_policy: Option<PathBuf>,
    /// Resumable uploads (`[uploads]`, docs/PROTOCOL.md §7.4).
    pub uploads: UploadSettings,
}

/// Resumable uploads: where unfinished ones are staged, how much room they
/// may take together, and how long they live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadSettings {
    /// The staging directory; `<data>/uploads` when unset.
    pub dir: Option<PathBuf>,
    /// Bytes all open uploads may declare together (each reserves its whole
    /// declared length when it is opened).
    pub staging_quota_bytes: u64,
    /// Uploads open at once.
    pub max_open: u32,
    /// Seconds an upload lives after it was opened; then it and its bytes
    /// are removed, finished or not, unless a submission used it.
    pub expiry_secs: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            dir: None,
            staging_quota_bytes: 8 << 30,
            max_open: 256,
            expiry_secs: 24 * 3600,
        }
    }
}

/// `[store]`: a PostgreSQL database instead of sled in `data`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `postgres://user:password@host/db` or libpq's `key=value` form;
    /// none: sled in the data directory.
    pub database_url: Option<DatabaseUrl>,
}

/// A PostgreSQL connection string. It may hold a password, so it is never
/// shown whole: `Debug` and [`DatabaseUrl::redacted`] replace the password
/// with `***` ([`wbs_store::redact`]).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The connection string, password included: for the database client
    /// only, never for a log or a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The connection string with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        wbs_store::redact(&self.0)
    }
}

impl TryFrom<String> for DatabaseUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("the database URL is empty".into());
        }
        if s.chars().any(char::is_control) {
            return Err("the database URL holds a control character".into());
        }
        Ok(DatabaseUrl(s))
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DatabaseUrl::try_from(s.to_owned())
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

/// When the desk session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecureCookie {
    /// When the request says it came over TLS (`X-Forwarded-Proto: https`
    /// or `Forwarded: proto=https`, set by the reverse proxy in front) or to
    /// an onion service (its `Host` ends in `.onion`).
    Auto,
    /// Always: the desk is only ever reached over TLS or an onion service.
    Always,
}

/// The desk pages' sessions and login budget. None of it keys on anything
/// about the client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskSessionSettings {
    /// Minutes without a request after which a session ends.
    pub idle_minutes: u64,
    /// Hours after login at which a session ends, however busy.
    pub max_hours: u64,
    /// When the cookie carries `Secure`.
    pub secure_cookie: SecureCookie,
    /// Failed logins (wrong code) one token name may have per window;
    /// beyond that, that name cannot log in until the window refills.
    pub login_failures_per_name: u32,
    /// Failed logins (any reason) all clients together may have per window.
    pub login_failures_global: u32,
    /// The window of both budgets, minutes; it refills evenly.
    pub login_window_minutes: u64,
}

impl Default for DeskSessionSettings {
    fn default() -> Self {
        DeskSessionSettings {
            idle_minutes: 30,
            max_hours: 10,
            secure_cookie: SecureCookie::Auto,
            login_failures_per_name: 5,
            login_failures_global: 100,
            login_window_minutes: 15,
        }
    }
}

/// Who may use the investigators' desk (pages and bearer API).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskSettings {
    /// Refuse every token without a TOTP second factor, on the desk pages
    /// and the bearer API alike (`crate::totp::check_login`). Off by
    /// default; a token with TOTP enrolled needs its code either way.
    pub require_totp: bool,
}

/// How the digest's SMTP connection is encrypted. There is no plain-text
/// option: the message and the password never cross a network in clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// STARTTLS on the submission port (587 unless `smtp_port`); refused
    /// if the relay does not offer it.
    Starttls,
    /// TLS from the first byte (465 unless `smtp_port`).
    Tls,
}

/// The daily digest by e-mail (`[digest]`): how many new reports and
/// follow-ups arrived since the last digest and how many cases are due or
/// overdue, never which. Sent once a day during the hour `hour_utc`,
/// whatever happened.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSettings {
    /// The SMTP relay's host name (also the name its certificate must carry).
    pub smtp_host: String,
    /// Its port; 587 for `starttls`, 465 for `tls` when unset.
    pub smtp_port: Option<u16>,
    /// `starttls` or `tls`.
    pub tls: SmtpTls,
    /// SMTP user name; none: send without logging in.
    pub username: Option<String>,
    /// A file holding the SMTP password (its first line); needed with
    /// `username`. Never in the configuration file itself.
    pub password_file: Option<PathBuf>,
    /// The sender address.
    pub from: String,
    /// The recipients (one message to all of them).
    pub to: Vec<String>,
    /// The UTC hour (0-23) during which the digest is sent each day.
    #[serde(default = "default_digest_hour")]
    pub hour_utc: u8,
    /// A PEM file of the CA that signed the relay's certificate, for a relay
    /// with a private CA; then only this CA is trusted. Unset: the public
    /// web PKI roots (shipped with the server).
    pub ca_file: Option<PathBuf>,
}

fn default_digest_hour() -> u8 {
    7
}

impl DigestSettings {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }

    fn validate(&self) -> Result<(), String> {
        if self.smtp_host.trim().is_empty() {
            return Err("config: digest.smtp_host is empty".into());
        }
        if self.hour_utc > 23 {
            return Err("config: digest.hour_utc must be 0 to 23".into());
        }
        if self.to.is_empty() {
            return Err("config: digest.to needs at least one address".into());
        }
        for address in std::iter::once(&self.from).chain(&self.to) {
            let ok = address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && (domain.contains('.') || domain == "localhost")
            }) && !address
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>,;".contains(c));
            if !ok {
                return Err(format!(
                    "config: digest: {address:?} is not an e-mail address"
                ));
            }
        }
        if self.username.is_some() != self.password_file.is_some() {
            return Err("config: digest.username and digest.password_file go together".into());
        }
        Ok(())
    }
}

/// A category in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategorySetting {
    /// Identifier.
    pub id: String,
    /// Indonesian label.
    pub label_id: String,
    /// English label.
    pub label_en: String,
}

/// Limits. None of them ever keys on an IP address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Largest single encrypted object, bytes.
    pub max_object_bytes: u64,
    /// Largest request body, bytes.
    pub max_request_bytes: u64,
    /// Most attachments per submission or follow-up.
    pub max_attachments: u32,
    /// Largest reply bundle accepted by the desk import, bytes.
    pub max_import_bytes: u64,
    /// Submissions accepted per minute, server-wide.
    pub submissions_per_minute: u32,
    /// Follow-ups accepted per minute, server-wide.
    pub followups_per_minute: u32,
    /// Status look-ups per second, server-wide; more wait their turn.
    pub status_per_second: u32,
    /// Ignored: challenges are not limited (docs/PROTOCOL.md §6). Still
    /// accepted, so that older configuration files load.
    pub pow_per_second: u32,
    /// Uploads (submissions and follow-ups) in progress at once.
    pub max_concurrent_uploads: u32,
    /// Open connections at once.
    pub max_connections: u32,
    /// Seconds a client may take to send its request headers.
    pub header_timeout_secs: u64,
    /// Seconds an upload may stay silent before it is dropped.
    pub body_idle_timeout_secs: u64,
    /// Seconds any non-upload request may take.
    pub request_timeout_secs: u64,
}

/// Proof-of-work settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PowSettingsFile {
    /// Leading zero bits; 0 turns proof-of-work off.
    pub difficulty: u8,
    /// Seconds a challenge stays valid.
    pub ttl_secs: u64,
    /// A file holding the challenge key (64 hex digits, readable by the
    /// server's user only). Several instances behind one address need the
    /// same key, so a challenge issued by one is accepted by another; with
    /// none, each process draws its own key at start.
    pub key_file: Option<PathBuf>,
}

/// Retention settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Days after its last status change that a closed case is deleted; 0 keeps cases forever.
    pub closed_case_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            organization: "Inspektorat Daerah (demo)".into(),
            listen: "127.0.0.1:8080".parse().expect("valid"),
            desk_listen: None,
            data: PathBuf::from("wbs-data"),
            store: StoreSettings::default(),
            recipients: PathBuf::from("keys"),
            onion_location: None,
            intro: Localized {
                id: "Laporkan dugaan korupsi, pungutan liar, penyalahgunaan wewenang atau \
                     pelanggaran lain oleh aparatur pemerintah daerah. Laporan dienkripsi di \
                     perangkat Anda sebelum dikirim; identitas Anda tidak pernah diminta."
                    .into(),
                en: "Report suspected corruption, illegal levies, abuse of power or other \
                     misconduct by local government officials. Reports are encrypted on your \
                     device before they are sent; you are never asked who you are."
                    .into(),
            },
            categories: default_categories(),
            limits: LimitSettings::default(),
            pow: PowSettingsFile::default(),
            retention: RetentionSettings::default(),
            desk: DeskSettings::default(),
            digest: None,
            desk_session: DeskSessionSettings::default(),
            deadline_policy: None,
            uploads: UploadSettings::default(),
        }
    }
}

fn default_categories() -> Vec<CategorySetting> {
    [
        (
            "corruption",
            "Korupsi / gratifikasi",
            "Corruption / gratification",
        ),
        ("illegal_levy", "Pungutan liar", "Illegal levies"),
        ("procurement", "Pengadaan barang dan jasa", "Procurement"),
        (
            "abuse_of_power",
            "Penyalahgunaan wewenang",
            "Abuse of power",
        ),
        (
            "conflict_of_interest",
            "Benturan kepentingan",
            "Conflict of interest",
        ),
        ("other", "Pelanggaran lainnya", "Other misconduct"),
    ]
    .into_iter()
    .map(|(id, label_id, label_en)| CategorySetting {
        id: id.into(),
        label_id: label_id.into(),
        label_en: label_en.into(),
    })
    .collect()
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_object_bytes: 512 << 20,
            max_request_bytes: 2 << 30,
            max_attachments: 20,
            max_import_bytes: 64 << 20,
            submissions_per_minute: 120,
            followups_per_minute: 120,
            status_per_second: 50,
            pow_per_second: 50,
            max_concurrent_uploads: 16,
            max_connections: 512,
            header_timeout_secs: 10,
            body_idle_timeout_secs: 30,
            request_timeout_secs: 30,
        }
    }
}

impl Default for PowSettingsFile {
    fn default() -> Self {
        PowSettingsFile {
            difficulty: 16,
            ttl_secs: 1800,
            key_file: None,
        }
    }
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            closed_case_days: 365,
        }
    }
}

impl Settings {
    /// Where the store is: the database if `[store] database_url` is set,
    /// else sled in `data`.
    pub fn location(&self) -> wbs_store::StoreLocation {
        match &self.store.database_url {
            Some(url) => wbs_store::StoreLocation::Postgres {
                url: url.expose().to_owned(),
            },
            None => wbs_store::StoreLocation::Sled {
                data: self.data.clone(),
            },
        }
    }

    /// The categories as the API shows them.
    pub fn api_categories(&self) -> Vec<Category> {
        self.categories
            .iter()
            .map(|c| Category {
                id: c.id.clone(),
                label: Localized {
                    id: c.label_id.clone(),
                    en: c.label_en.clone(),
                },
            })
            .collect()
    }

    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config {}: {e}", path.display()))
    }

    /// Applies `WBS_*` environment variables.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        fn parse<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("environment variable {name} has an invalid value"))
        }
        if let Some(v) = get("WBS_LISTEN") {
            self.listen = parse("WBS_LISTEN", v)?;
        }
        if let Some(v) = get("WBS_DESK_LISTEN") {
            self.desk_listen = Some(parse("WBS_DESK_LISTEN", v)?);
        }
        if let Some(v) = get("WBS_DATA") {
            self.data = PathBuf::from(v);
        }
        if let Some(v) = get("WBS_DATABASE_URL") {
            // The message names the variable, never its value.
            self.store.database_url = Some(
                v.parse()
                    .map_err(|e| format!("environment variable WBS_DATABASE_URL: {e}"))?,
            );
        }
        if let Some(v) = get("WBS_RECIPIENTS") {
            self.recipients = PathBuf::from(v);
        }
        if let Some(v) = get("WBS_ORGANIZATION") {
            self.organization = v;
        }
        if let Some(v) = get("WBS_POW_DIFFICULTY") {
            self.pow.difficulty = parse("WBS_POW_DIFFICULTY", v)?;
        }
        if let Some(v) = get("WBS_ONION_LOCATION") {
            self.onion_location = Some(v);
        }
        Ok(())
    }

    /// Checks values that would make the server misbehave.
    pub fn validate(&self) -> Result<(), String> {
        if self.categories.is_empty() {
            return Err("config: at least one category is needed".into());
        }
        if let Some(d) = &self.digest {
            d.validate()?;
        }
        if self.pow.difficulty > 32 {
            return Err("config: pow.difficulty above 32 would lock every reporter out".into());
        }
        let l = &self.limits;
        if l.max_object_bytes == 0 || l.max_request_bytes < l.max_object_bytes {
            return Err(
                "config: limits.max_request_bytes must be at least max_object_bytes".into(),
            );
        }
        let u = &self.uploads;
        if u.max_open == 0 || u.expiry_secs == 0 || u.staging_quota_bytes == 0 {
            return Err(
                "config: uploads.max_open, uploads.expiry_secs and uploads.staging_quota_bytes \
                 must be above 0"
                    .into(),
            );
        }
        let d = &self.desk_session;
        for (name, v) in [
            ("idle_minutes", d.idle_minutes),
            ("max_hours", d.max_hours),
            (
                "login_failures_per_name",
                u64::from(d.login_failures_per_name),
            ),
            ("login_failures_global", u64::from(d.login_failures_global)),
            ("login_window_minutes", d.login_window_minutes),
        ] {
            if v == 0 {
                return Err(format!("config: desk_session.{name} must be above 0"));
            }
        }
        if d.idle_minutes > 24 * 60 || d.max_hours > 24 * 7 || d.login_window_minutes > 24 * 60 {
            return Err(
                "config: desk_session: idle_minutes at most 1440, max_hours at most 168, \
                 login_window_minutes at most 1440"
                    .into(),
            );
        }
        for (name, v) in [
            ("submissions_per_minute", l.submissions_per_minute),
            ("followups_per_minute", l.followups_per_minute),
            ("status_per_second", l.status_per_second),
            ("max_concurrent_uploads", l.max_concurrent_uploads),
            ("max_connections", l.max_connections),
        ] {
            if v == 0 {
                return Err(format!("config: limits.{name} must be above 0"));
            }
        }
        Ok(())
    }
}

/// Reads the inspectorate recipients with the workspace's one `.pub`
/// reader ([`wbs_protocol::keys::read_pub_files`]): `path` is a file or a
/// folder of them, one recipient per file, `age1…` or `age1pq1…` but all of
/// one kind (a mixed set is refused, naming the rule). Returns the
/// recipients and whether the demo key is among them.
pub fn load_recipients(path: &Path) -> Result<(Vec<wbs_protocol::keys::Recipient>, bool), String> {
    let read = wbs_protocol::keys::read_pub_files(path)?;
    for f in &read.files {
        if f.recipients.len() != 1 {
            return Err(format!(
                "{}: expected exactly one age recipient (age1… or age1pq1…), found {}",
                f.path.display(),
                f.recipients.len()
            ));
        }
    }
    let demo = read.demo();
    Ok((read.recipients, demo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_env_and_defaults_layer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wbs.toml");
        std::fs::write(
            &p,
            "organization = \"Inspektorat Kota X\"\n[pow]\ndifficulty = 10\n[limits]\nmax_attachments = 3\n",
        )
        .unwrap();
        let mut s = Settings::from_file(&p).unwrap();
        assert_eq!(s.organization, "Inspektorat Kota X");
        assert_eq!(s.limits.max_attachments, 3);
        assert_eq!(
            s.limits.max_object_bytes,
            LimitSettings::default().max_object_bytes
        );
        s.apply_env(|k| (k == "WBS_POW_DIFFICULTY").then(|| "0".to_string()))
            .unwrap();
        assert_eq!(s.pow.difficulty, 0);
        assert!(s
            .apply_env(|k| (k == "WBS_LISTEN").then(|| "nope".into()))
            .is_err());
    }

    #[test]
    fn the_database_url_comes_from_the_file_or_the_environment_and_never_shows_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wbs.toml");
        std::fs::write(
            &p,
            "[store]\ndatabase_url = \"postgres://wbs:s3cret-pw@db.internal:5432/wbs\"\n",
        )
        .unwrap();
        let mut s = Settings::from_file(&p).unwrap();
        let url = s.store.database_url.clone().unwrap();
        assert_eq!(
            url.expose(),
            "postgres://wbs:s3cret-pw@db.internal:5432/wbs"
        );
        assert_eq!(url.redacted(), "postgres://wbs:***@db.internal:5432/wbs");
        assert!(!format!("{s:?}").contains("s3cret-pw"), "{s:?}");

        s.apply_env(|k| (k == "WBS_DATABASE_URL").then(|| "host=/run/pg user=wbs".into()))
            .unwrap();
        assert_eq!(
            s.store.database_url.as_ref().unwrap().expose(),
            "host=/run/pg user=wbs"
        );
        let err = s
            .apply_env(|k| (k == "WBS_DATABASE_URL").then(|| "postgres://a:s3cret\n@h".into()))
            .unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(Settings::default().store.database_url.is_none());

        let loc = s.location();
        assert!(
            matches!(&loc, wbs_store::StoreLocation::Postgres { url } if url == "host=/run/pg user=wbs")
        );
        s.store.database_url = None;
        assert!(matches!(
            s.location(),
            wbs_store::StoreLocation::Sled { .. }
        ));
    }

    #[test]
    fn require_totp_is_off_unless_set() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wbs.toml");
        std::fs::write(&p, "organization = \"X\"\n").unwrap();
        assert!(!Settings::from_file(&p).unwrap().desk.require_totp);
        std::fs::write(&p, "[desk]\nrequire_totp = true\n").unwrap();
        assert!(Settings::from_file(&p).unwrap().desk.require_totp);
        std::fs::write(&p, "[desk]\nrequire_topt = true\n").unwrap();
        assert!(Settings::from_file(&p).is_err());
    }

    #[test]
    fn the_digest_is_off_unless_configured_and_checked_when_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wbs.toml");
        std::fs::write(&p, "organization = \"X\"\n").unwrap();
        let s = Settings::from_file(&p).unwrap();
        assert!(s.digest.is_none());
        s.validate().unwrap();
        let good = "[digest]\nsmtp_host = \"mail.example.org\"\ntls = \"starttls\"\n\
                    username = \"wbs\"\npassword_file = \"/etc/wbs/smtp-password\"\n\
                    from = \"wbs@example.org\"\nto = [\"desk@example.org\"]\n";
        std::fs::write(&p, good).unwrap();
        let s = Settings::from_file(&p).unwrap();
        s.validate().unwrap();
        let d = s.digest.unwrap();
        assert_eq!((d.hour_utc, d.port(), d.tls), (7, 587, SmtpTls::Starttls));
        for (bad, why) in [
            ("tls = \"starttls\"", "tls = \"none\""),
            ("to = [\"desk@example.org\"]", "to = []"),
            ("to = [\"desk@example.org\"]", "to = [\"desk\"]"),
            (
                "to = [\"desk@example.org\"]",
                "to = [\"a@b.org>\\r\\nBcc: x@y.org\"]",
            ),
            ("username = \"wbs\"\n", ""),
            ("from = ", "hour_utc = 24\nfrom = "),
        ] {
            std::fs::write(&p, good.replace(bad, why)).unwrap();
            let refused = Settings::from_file(&p).and_then(|s| s.validate());
            assert!(refused.is_err(), "{why:?} was accepted");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wbs.toml");
        std::fs::write(&p, "organisation = \"typo\"\n").unwrap();
        assert!(Settings::from_file(&p).is_err());
    }

    #[test]
    fn recipients_folder() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        std::fs::write(
            dir.path().join("a.pub"),
            format!("# comment\n{}\n", id.to_public()),
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let (r, demo) = load_recipients(dir.path()).unwrap();
        assert_eq!(r.len(), 1);
        assert!(!demo);
        std::fs::write(dir.path().join("b.pub"), "age1garbage\n").unwrap();
        assert!(load_recipients(dir.path()).is_err());
    }

    #[test]
    fn post_quantum_recipients_and_the_no_mixing_rule() {
        let dir = tempfile::tempdir().unwrap();
        let pq = wbs_protocol::pq::Identity::generate()
            .to_public()
            .to_string();
        std::fs::write(dir.path().join("a.pub"), format!("# PQ\n{pq}\n")).unwrap();
        let (r, _) = load_recipients(dir.path()).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].to_string(), pq);
        let classic = age::x25519::Identity::generate().to_public().to_string();
        std::fs::write(dir.path().join("b.pub"), format!("{classic}\n")).unwrap();
        let err = load_recipients(dir.path()).unwrap_err();
        assert!(err.contains("never both"), "{err}");
        assert!(err.contains("b.pub"), "{err}");
    }
}
