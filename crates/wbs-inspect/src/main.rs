//! `wbs-inspect`: the air-gapped tool of WBS, and the only program that can
//! read a report.
//!
//! It makes the inspectorate's key pairs (`keygen`), decrypts the export
//! bundles the online desk carries over by USB (`open`), and encrypts the
//! investigator's replies and status changes into reply bundles that go back
//! the same way (`reply`).
//!
//! It runs on a machine that holds the inspectorate's private key and must
//! therefore **never touch a network**. It contains no networking code and
//! depends on no networking crate, directly or indirectly;
//! `tests/no_network.rs` checks the dependency tree for that on every test
//! run. Keep it that way: anything that needs a network belongs in
//! `wbs-desk`, on the other side of the air gap.
//!
//! Everything it reads from a bundle is untrusted, even after decryption:
//! names are sanitised, ids validated, hashes verified, and nothing is ever
//! written outside the output folder or over a file with other content.
#![forbid(unsafe_code)]

mod casedir;
mod cli;
mod error;
mod fsutil;
mod json;
mod keygen;
mod keyring;
mod open;
mod passphrase;
mod render;
mod reply;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::{one_line, Error};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match run(cli.command) {
        Ok(line) => {
            // A closed pipe (`wbs-inspect open … | head`) is not a failure.
            // The line names folders and files, which may hold anything.
            let _ = writeln!(std::io::stdout(), "{}", one_line(&line));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wbs-inspect: {}", one_line(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(command: Command) -> Result<String, Error> {
    match command {
        Command::Keygen(args) => {
            let made = keygen::run(&args)?;
            if made.unprotected {
                eprintln!(
                    "wbs-inspect: warning: {}.key is NOT protected by a passphrase: anyone who \
                     copies it can read every report. Use --no-passphrase only for tests and demos.",
                    args.name
                );
            }
            Ok(made.recipient)
        }
        Command::Open(args) => open::run(&args),
        Command::Reply(args) => reply::run(&args),
    }
}

/// Help and version go to stdout as clap formats them; a usage error becomes
/// one line like every other error.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    // clap's message is the error, sometimes continued on indented lines
    // (the missing arguments), then a blank line and the usage.
    let text = e.to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!(
        "wbs-inspect: {} (see wbs-inspect --help)",
        one_line(message)
    );
    ExitCode::from(2)
}
