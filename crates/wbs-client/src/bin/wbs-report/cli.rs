//! The command line of `wbs-report`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// File an anonymous, end-to-end encrypted report with a WBS drop box,
/// check its status and read replies, or add to it.
///
/// Everything is encrypted on this device before it is sent. Use
/// `--proxy socks5h://127.0.0.1:9050` to go through Tor.
#[derive(Debug, Parser)]
#[command(name = "wbs-report", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit a new report. Prints the receipt code on the last line of
    /// standard output: keep it, nobody can recover it.
    Submit(SubmitArgs),
    /// Show a report's status, history and the inspectorate's replies.
    Status(StatusArgs),
    /// Add a message (and files) to a report.
    #[command(name = "follow-up")]
    FollowUp(FollowUpArgs),
}

/// How to reach the server.
#[derive(Debug, Args)]
pub struct Connection {
    /// The drop box's address, e.g. https://wbs.example.go.id or an onion address.
    #[arg(long, value_name = "URL", value_parser = server_url)]
    pub server: String,
    /// Go through this SOCKS proxy, e.g. Tor: socks5h://127.0.0.1:9050
    /// (only socks5h, which leaves name resolution to the proxy).
    #[arg(long, value_name = "socks5h://HOST:PORT", value_parser = proxy_url)]
    pub proxy: Option<String>,
    /// The inspectorate's public keys from a source you trust (a .pub file
    /// or a folder of them): refuse to send if the server lists other keys.
    #[arg(long, value_name = "PATH")]
    pub recipients: Option<std::path::PathBuf>,
}

/// Checks `--server` while the arguments are parsed, before any work.
fn server_url(s: &str) -> Result<String, String> {
    wbs_client::parse_server_url(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Checks `--proxy` while the arguments are parsed: only socks5h.
fn proxy_url(s: &str) -> Result<String, String> {
    wbs_client::parse_proxy(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// `wbs-report submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The report, a UTF-8 text file, or `-` for standard input.
    #[arg(long, value_name = "FILE|-")]
    pub message: PathBuf,
    /// A short title (default: the first line of the message).
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// A category id offered by the server (default: its first).
    #[arg(long, value_name = "C")]
    pub category: Option<String>,
    /// A file to attach; repeat for more, they are kept in order.
    #[arg(long = "attach", value_name = "FILE")]
    pub attachments: Vec<PathBuf>,
    /// How the inspectorate may contact you, if you wish (leave out to stay
    /// fully anonymous).
    #[arg(long, value_name = "TEXT")]
    pub contact: Option<String>,
    #[command(flatten)]
    pub cleaning: Cleaning,
    #[command(flatten)]
    pub resuming: Resuming,
}

/// Going on with an upload that was interrupted.
#[derive(Debug, Args, Clone, Copy)]
pub struct Resuming {
    /// Go on with the large attachments of an earlier run to this server
    /// that was stopped before the server confirmed: give the same message
    /// and files again. They are kept, encrypted, in
    /// $WBS_REPORT_STATE_DIR, else $XDG_STATE_HOME/wbs-report, else
    /// ~/.local/state/wbs-report, until the server confirms.
    #[arg(long)]
    pub resume: bool,
}

/// What is done with identifying metadata in the attachments.
#[derive(Debug, Args, Clone, Copy)]
pub struct Cleaning {
    /// Send every attachment exactly as it is: do not remove GPS positions,
    /// camera models, authors and the like (they are still listed).
    #[arg(long)]
    pub keep_metadata: bool,
    /// Send files WBS could not read safely (damaged, or hiding parts it
    /// cannot read) unchanged instead of refusing; without it you are asked
    /// at a terminal, and refused otherwise.
    #[arg(long)]
    pub send_unchecked: bool,
    /// Replace the attachments' file names with neutral ones
    /// (lampiran-1.jpg, lampiran-2.pdf, …).
    #[arg(long)]
    pub neutral_names: bool,
}

/// `wbs-report status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The receipt code, or `-` to read it from standard input (which keeps
    /// it out of the shell history).
    #[arg(long, value_name = "CODE")]
    pub receipt: String,
}

/// `wbs-report follow-up`.
#[derive(Debug, Args)]
pub struct FollowUpArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The receipt code, or `-` to read it from standard input.
    #[arg(long, value_name = "CODE")]
    pub receipt: String,
    /// The message, a UTF-8 text file, or `-` for standard input.
    #[arg(long, value_name = "FILE|-")]
    pub message: PathBuf,
    /// A file to attach; repeat for more, they are kept in order.
    #[arg(long = "attach", value_name = "FILE")]
    pub attachments: Vec<PathBuf>,
    #[command(flatten)]
    pub cleaning: Cleaning,
    #[command(flatten)]
    pub resuming: Resuming,
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
    fn submit_takes_repeated_attachments_in_order() {
        let cli = Cli::try_parse_from([
            "wbs-report",
            "submit",
            "--server",
            "http://127.0.0.1:8080",
            "--message",
            "-",
            "--attach",
            "b.pdf",
            "--attach",
            "a.jpg",
        ])
        .unwrap();
        let Command::Submit(args) = cli.command else {
            panic!("not submit")
        };
        assert_eq!(
            args.attachments,
            [PathBuf::from("b.pdf"), PathBuf::from("a.jpg")]
        );
        assert_eq!(args.message, PathBuf::from("-"));
        assert!(args.connection.proxy.is_none());
    }

    #[test]
    fn follow_up_is_spelled_with_a_dash() {
        let cli = Cli::try_parse_from([
            "wbs-report",
            "follow-up",
            "--server",
            "http://x",
            "--receipt",
            "ABCDE",
            "--message",
            "m.txt",
        ]);
        assert!(matches!(cli.unwrap().command, Command::FollowUp(_)));
    }

    #[test]
    fn proxies_other_than_socks5h_are_refused_while_parsing() {
        let parse = |proxy: &str| {
            Cli::try_parse_from([
                "wbs-report",
                "status",
                "--server",
                "http://x",
                "--receipt",
                "X",
                "--proxy",
                proxy,
            ])
        };
        assert!(parse("socks5h://127.0.0.1:9050").is_ok());
        let err = parse("socks5://127.0.0.1:9050").unwrap_err();
        let line = wbs_client::terminal::clap_error_line(&err);
        assert!(line.contains("socks5h://"), "{line}");
        assert!(parse("http://127.0.0.1:8118").is_err());
    }

    #[test]
    fn server_urls_are_checked_while_parsing() {
        let err = Cli::try_parse_from([
            "wbs-report",
            "status",
            "--server",
            "wbs.example.go.id",
            "--receipt",
            "X",
        ])
        .unwrap_err();
        let line = wbs_client::terminal::clap_error_line(&err);
        assert!(line.contains("http://"), "{line}");
    }

    #[test]
    fn the_server_is_required() {
        let err = Cli::try_parse_from(["wbs-report", "status", "--receipt", "X"]).unwrap_err();
        let line = wbs_client::terminal::clap_error_line(&err);
        assert!(line.contains("--server"), "{line}");
        assert!(!line.contains('\n'));
    }
}
