//! `wbs-inspect`: the air-gapped tool of WBS. The command line over the
//! `wbs_inspect` library (see its crate documentation: it must never touch
//! a network).
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use wbs_inspect::cli::{Cli, Command};
use wbs_inspect::error::{one_line, Error};
use wbs_inspect::{cases, keygen, open, reply};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // `cases` prints a table (or JSON) of several lines, each made safe for
    // a terminal as it is built (wbs_inspect::cases).
    let several_lines = matches!(cli.command, Command::Cases(_));
    match run(cli.command) {
        Ok(text) => {
            // A closed pipe (`wbs-inspect open … | head`) is not a failure.
            // The line names folders and files, which may hold anything.
            let text = if several_lines { text } else { one_line(&text) };
            let _ = writeln!(std::io::stdout(), "{text}");
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
        Command::Cases(args) => cases::run_cases(&args),
        Command::Stats(args) => cases::run_stats(&args),
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
