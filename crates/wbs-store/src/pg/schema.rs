//! The PostgreSQL schema and its versioned migrations.
//!
//! Migration `n` (1-based) takes a database from schema version `n - 1` to
//! `n`. They are applied in order at open, each in its own transaction
//! together with the version bump, under an advisory lock so that
//! instances starting together do not race. A database whose version is
//! newer than [`SCHEMA_VERSION`] is refused: an older binary must never
//! write into a schema it does not know.
//!
//! What the tables may hold follows the crate doc: no IP address, no time
//! of day about a reporter (dates are `date`, and `staged_on` is a date
//! too), no receipt code or lookup key (only its SHA-256), no plaintext.
//! The Unix times that do appear are expiries: of spent proof-of-work ids
//! (as in the sled backend), of investigators' desk sessions, and of
//! leases between instances.

/// The schema version this binary writes.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// Key of the advisory lock held while migrating ("WBS" + 1).
pub(crate) const MIGRATION_LOCK: i64 = 0x5742_5301;

/// The migrations, in order; `MIGRATIONS[i]` makes version `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
CREATE TABLE counters (
    name text PRIMARY KEY,
    value bigint NOT NULL CHECK (value >= 0)
);
-- 'objects': the export sequence; 'audit': the audit log's numbering.
-- A transaction that adds objects takes the row lock on 'objects' and
-- keeps it until it commits (see the crate doc, "The export cursor").
INSERT INTO counters (name, value) VALUES ('objects', 0), ('audit', 0);

CREATE TABLE cases (
    id text PRIMARY KEY,
    lookup_hash bytea NOT NULL UNIQUE CHECK (length(lookup_hash) = 32),
    first_seq bigint NOT NULL UNIQUE,
    record text NOT NULL
);

-- A blob is written chunk by chunk in short transactions of their own
-- (complete = false meanwhile; size and sha256 are placeholders until
-- then); the commit that sets complete = true makes it a staged blob.
CREATE TABLE blobs (
    id text PRIMARY KEY,
    size bigint NOT NULL CHECK (size >= 0),
    sha256 bytea NOT NULL CHECK (length(sha256) = 32),
    staged_on date NOT NULL,
    complete boolean NOT NULL DEFAULT false,
    used boolean NOT NULL DEFAULT false CHECK (complete OR NOT used)
);

CREATE TABLE blob_chunks (
    blob text NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    n integer NOT NULL CHECK (n >= 0),
    data bytea NOT NULL,
    PRIMARY KEY (blob, n)
);

CREATE TABLE objects (
    seq bigint PRIMARY KEY,
    case_id text NOT NULL REFERENCES cases (id),
    blob text NOT NULL UNIQUE REFERENCES blobs (id),
    record text NOT NULL
);
CREATE INDEX objects_by_case ON objects (case_id, seq);

CREATE TABLE applied_items (
    item_id text PRIMARY KEY,
    on_day date NOT NULL
);

CREATE TABLE tokens (
    hash bytea PRIMARY KEY CHECK (length(hash) = 32),
    name text NOT NULL UNIQUE,
    created_on date NOT NULL,
    totp_sealed bytea,
    totp_last_step bigint NOT NULL DEFAULT 0
);

CREATE TABLE audit (
    seq bigint PRIMARY KEY,
    on_day date NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    detail text NOT NULL
);

CREATE TABLE digest (
    id integer PRIMARY KEY CHECK (id = 1),
    cursor bigint NOT NULL,
    sent_on date
);

CREATE TABLE pow_spent (
    id bytea PRIMARY KEY,
    expires_at bigint NOT NULL
);
CREATE INDEX pow_spent_by_expiry ON pow_spent (expires_at);

CREATE TABLE sessions (
    id_hash bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    name text NOT NULL,
    token_hash bytea NOT NULL,
    csrf bytea NOT NULL,
    idle_until bigint NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX sessions_by_token ON sessions (token_hash);

CREATE TABLE leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    until bigint NOT NULL
);
"#,
];
