//! The WBS client: a blocking HTTP client for API v1 and the two command
//! lines built on it, `wbs-report` (for reporters) and `wbs-desk` (for the
//! investigators' online desk).
//!
//! - [`Client`]: submit a report, check its status and read the replies,
//!   add follow-ups. Everything is encrypted on this device with
//!   [`wbs_protocol`] before it is sent; the receipt code never leaves it.
//! - [`DeskClient`]: list cases, pull verified export bundles, push reply
//!   bundles, set statuses, with an investigator token.
//!
//! ```no_run
//! use wbs_client::{Client, SubmissionInput};
//!
//! let client = Client::new("http://127.0.0.1:8080", None)?;
//! let submitted = client.submit(&SubmissionInput {
//!     message: "Harga laptop dinaikkan 300%".into(),
//!     ..Default::default()
//! })?;
//! let status = client.status(&submitted.code)?;
//! # Ok::<(), wbs_client::ClientError>(())
//! ```
//!
//! What this crate must never do: send plaintext, a receipt code or a
//! lookup key's source to anyone; write a receipt code anywhere (only the
//! caller decides to show it); say anything about the device in a request
//! (fixed User-Agent, no cookies, no referrer); resolve host names locally
//! when a proxy is given (only `socks5h://` proxies are accepted); follow
//! redirects; or print anything itself.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod compose;
mod desk;
mod error;
pub mod limits;
pub mod media;
mod reporter;
pub mod resumable;
mod staging;
pub mod terminal;
mod transport;

pub use compose::{
    read_recipient_files, resolve_category, resolve_title, FollowUpInput, PreparedAttachment,
    SubmissionInput, DEFAULT_TITLE_CHARS,
};
pub use desk::{
    cursor_file_for, parse_token, read_saved_cursor, read_token_file, save_cursor,
    token_file_is_exposed, validate_cursor, DeskClient, Pulled, MAX_CURSOR_LEN,
};
pub use error::ClientError;
pub use limits::PlannedFile;
pub use reporter::{
    CaseStatus, Client, ReceivedReply, ReplyContent, Submitted, MAX_POW_DIFFICULTY,
};
pub use transport::{
    is_cleartext_to_internet, parse_proxy, parse_retry_after, parse_server_url, ClientOptions,
    DESK_USER_AGENT, REPORTER_USER_AGENT,
};

/// A step of a long operation, for a command line to show. Never carries a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// An attachment is being encrypted.
    Encrypting {
        /// Its file name.
        name: String,
    },
    /// A proof-of-work challenge is being solved.
    SolvingPow {
        /// Leading zero bits required.
        difficulty: u8,
    },
    /// An upload starts.
    Uploading {
        /// Bytes of encrypted objects in it.
        bytes: u64,
    },
    /// A download starts.
    Downloading {
        /// Its length, if the server said.
        bytes: Option<u64>,
    },
    /// A downloaded bundle is being verified.
    Verifying,
    /// The connection broke; the request is tried once more.
    Retrying {
        /// What broke.
        reason: String,
    },
    /// The server is busy; waiting before trying again.
    Waiting {
        /// How long.
        seconds: u64,
    },
    /// A resumable upload sends its object from `offset` on.
    UploadingFrom {
        /// Bytes the server already holds.
        offset: u64,
        /// The object's length.
        total: u64,
    },
    /// A resumable upload broke off; it goes on after a pause.
    Resuming {
        /// Bytes the server held at the last count.
        offset: u64,
        /// The object's length.
        total: u64,
    },
}
