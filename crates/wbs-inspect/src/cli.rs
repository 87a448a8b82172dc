//! The command line (DESIGN.md, "Command lines").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use wbs_protocol::Status;

/// The air-gapped WBS tool: makes the inspectorate's keys, decrypts export
/// bundles and writes encrypted replies. Run it only on a machine that never
/// touches a network.
#[derive(Debug, Parser)]
#[command(name = "wbs-inspect", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a new inspectorate key pair: DIR/NAME.key (private, passphrase-protected) and DIR/NAME.pub.
    Keygen(KeygenArgs),
    /// Decrypt an export bundle into DIR/<case-id>/ folders.
    Open(OpenArgs),
    /// Encrypt a reply (and optionally a status change) for a case into a reply bundle.
    Reply(ReplyArgs),
    /// List every case with its deadlines (acknowledge by, feedback by), the most urgent first.
    Cases(CasesArgs),
    /// Write the figures for a period: stats.csv and a printable stats.html.
    Stats(StatsArgs),
}

/// `wbs-inspect cases`.
#[derive(Debug, Args)]
pub struct CasesArgs {
    /// The folder `wbs-inspect open --out` decrypted into.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Read the clocks as on this day instead of today (YYYY-MM-DD).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<String>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The deadline policy (TOML); default: DIR/policy.toml if present, else
    /// the directive's periods in calendar days.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// `wbs-inspect stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The folder `wbs-inspect open --out` decrypted into.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// First day of the period (by the day reports were received).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: String,
    /// Last day of the period, included.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: String,
    /// Folder to write stats.csv and stats.html into (created if missing);
    /// existing files are never overwritten.
    #[arg(long, value_name = "FOLDER")]
    pub out: PathBuf,
    /// For publication: counts below the policy's threshold (3) show as
    /// "< 3", and figures from fewer cases are left out.
    #[arg(long)]
    pub publish: bool,
    /// Read the clocks as on this day instead of today (YYYY-MM-DD).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<String>,
    /// The deadline policy (TOML); default: DIR/policy.toml if present.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// `wbs-inspect keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Folder to write NAME.key and NAME.pub into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Name of the key pair, e.g. `inspektorat-2026`.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Write the private key unencrypted (only for tests and demos).
    #[arg(long, conflicts_with = "passphrase_file")]
    pub no_passphrase: bool,
    /// Read the passphrase from the first line of this file instead of the terminal.
    #[arg(long, value_name = "F")]
    pub passphrase_file: Option<PathBuf>,
    /// Make a post-quantum key pair (AGE-SECRET-KEY-PQ-1…, age1pq1…), for a
    /// post-quantum deployment. A server's keys are all classic or all
    /// post-quantum.
    #[arg(long)]
    pub pq: bool,
}

/// `wbs-inspect open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The export bundle made by `wbs-desk pull`.
    #[arg(value_name = "BUNDLE.tar")]
    pub bundle: PathBuf,
    /// The identity file (NAME.key), plain or passphrase-protected. Give it
    /// more than once to open a bundle whose cases were encrypted to
    /// different keys (the classic and the post-quantum key of a
    /// deployment that moved to post-quantum).
    #[arg(long, value_name = "FILE", required = true)]
    pub identity: Vec<PathBuf>,
    /// Read the identity's passphrase from the first line of this file
    /// instead of the terminal (the same passphrase for every identity file).
    #[arg(long, value_name = "F")]
    pub passphrase_file: Option<PathBuf>,
    /// Folder to decrypt into; each case gets DIR/<case-id>/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `wbs-inspect reply`.
#[derive(Debug, Args)]
pub struct ReplyArgs {
    /// The case folder written by `wbs-inspect open`.
    #[arg(long, value_name = "DIR/<case-id>")]
    pub case: PathBuf,
    /// The reply text (UTF-8), or `-` to read it from standard input.
    #[arg(long, value_name = "FILE")]
    pub message: PathBuf,
    /// Also set the case's status, e.g. `in_review`, `need_info`, `closed_substantiated`.
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    pub status: Option<Status>,
    /// The reply bundle to create, or to add to if it exists.
    #[arg(long, value_name = "REPLIES.tar")]
    pub out: PathBuf,
    /// Your own trusted copy of the inspectorate's public keys (a `.pub`
    /// file or a folder of them): encrypt to the reporter and exactly these.
    /// They must include the key of the identity that opened the case.
    /// Without it, or --trust-server-recipients, a reply is encrypted only
    /// to the reporter and that identity's own key, and refused if the
    /// server listed other keys.
    #[arg(long, value_name = "PATH", conflicts_with = "trust_server_recipients")]
    pub recipients: Option<PathBuf>,
    /// Also encrypt to the keys the server listed in the export bundle that
    /// are not this identity's own. Only once you have checked them: a
    /// server that was broken into lists its own key there to read replies.
    #[arg(long)]
    pub trust_server_recipients: bool,
}

fn parse_status(s: &str) -> Result<Status, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_passphrase_and_passphrase_file_conflict() {
        let r = Cli::try_parse_from([
            "wbs-inspect",
            "keygen",
            "--out",
            "d",
            "--name",
            "n",
            "--no-passphrase",
            "--passphrase-file",
            "f",
        ]);
        assert!(r.is_err());
    }

    #[test]
    fn unknown_status_is_refused() {
        let r = Cli::try_parse_from([
            "wbs-inspect",
            "reply",
            "--case",
            "c",
            "--message",
            "m",
            "--status",
            "closed",
            "--out",
            "r.tar",
        ]);
        assert!(r.is_err());
    }
}
