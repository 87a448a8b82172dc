//! The command line of `wbs-desk`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use wbs_protocol::Status;

/// The investigators' online desk for a WBS drop box: list cases, pull
/// encrypted material to carry to the air-gapped machine, push replies
/// back, set statuses.
///
/// Nothing here can decrypt a report: that happens on the air-gapped
/// machine with `wbs-inspect`.
#[derive(Debug, Parser)]
#[command(name = "wbs-desk", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the cases: id, received, status, objects, bytes, new objects.
    Cases(CasesArgs),
    /// Download an export bundle, verify it, and save it as --out.
    Pull(PullArgs),
    /// Upload a reply bundle made by `wbs-inspect reply`.
    Push(PushArgs),
    /// Set a case's status.
    Status(StatusArgs),
}

/// The server and the token.
#[derive(Debug, Args)]
pub struct Desk {
    /// The drop box's address.
    #[arg(long, value_name = "URL", value_parser = server_url)]
    pub server: String,
    /// A file whose first non-empty line is the investigator token (made by
    /// `wbs-server token add`); keep it mode 0600.
    #[arg(long, value_name = "F")]
    pub token_file: PathBuf,
    /// The current six-digit code of the token's TOTP second factor, if it
    /// has one (also WBS_TOTP_CODE). Without either, wbs-desk asks for it on
    /// the terminal when the server says the token needs one. Each code
    /// works once: one command, one code.
    #[arg(long, value_name = "CODE")]
    pub totp_code: Option<String>,
}

/// `wbs-desk cases`.
#[derive(Debug, Args)]
pub struct CasesArgs {
    #[command(flatten)]
    pub desk: Desk,
}

/// `wbs-desk pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub desk: Desk,
    /// Where to save the bundle; must not exist yet.
    #[arg(long, value_name = "BUNDLE.tar")]
    pub out: PathBuf,
    /// Only what was stored after this cursor (default: the cursor saved by
    /// the last successful pull, in <token-file>.cursor).
    #[arg(long, value_name = "CURSOR", conflicts_with = "all")]
    pub since: Option<String>,
    /// Everything, from the beginning.
    #[arg(long)]
    pub all: bool,
}

/// `wbs-desk push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub desk: Desk,
    /// The reply bundle.
    #[arg(value_name = "BUNDLE.tar")]
    pub bundle: PathBuf,
}

/// `wbs-desk status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub desk: Desk,
    /// The case id, as `wbs-desk cases` shows it.
    #[arg(value_name = "CASE_ID")]
    pub case_id: String,
    /// One of: received, in_review, need_info, investigating, forwarded,
    /// closed_substantiated, closed_unsubstantiated, rejected.
    #[arg(value_name = "STATUS", value_parser = status_name)]
    pub status: Status,
}

/// Checks `--server` while the arguments are parsed, before any work.
fn server_url(s: &str) -> Result<String, String> {
    wbs_client::parse_server_url(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Parses a status by its wire name; the error lists the valid names.
fn status_name(s: &str) -> Result<Status, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn since_and_all_exclude_each_other() {
        let base = [
            "wbs-desk",
            "pull",
            "--server",
            "http://x",
            "--token-file",
            "t",
            "--out",
            "b.tar",
        ];
        assert!(Cli::try_parse_from(base).is_ok());
        assert!(Cli::try_parse_from(base.iter().chain(&["--all"])).is_ok());
        assert!(Cli::try_parse_from(base.iter().chain(&["--since", "5"])).is_ok());
        assert!(Cli::try_parse_from(base.iter().chain(&["--since", "5", "--all"])).is_err());
    }

    #[test]
    fn status_takes_case_and_status_positionally() {
        let cli = Cli::try_parse_from([
            "wbs-desk",
            "status",
            "--server",
            "http://x",
            "--token-file",
            "t",
            "c0ffee",
            "in_review",
        ])
        .unwrap();
        let Command::Status(args) = cli.command else {
            panic!("not status")
        };
        assert_eq!(args.case_id, "c0ffee");
        assert_eq!(args.status, Status::InReview);
    }

    #[test]
    fn unknown_statuses_are_refused_listing_the_valid_names() {
        let err = Cli::try_parse_from([
            "wbs-desk",
            "status",
            "--server",
            "http://x",
            "--token-file",
            "t",
            "c0ffee",
            "closed",
        ])
        .unwrap_err();
        let line = wbs_client::terminal::clap_error_line(&err);
        assert!(line.contains("\"closed\""), "{line}");
        assert!(
            line.contains("closed_substantiated, closed_unsubstantiated"),
            "{line}"
        );
    }
}
