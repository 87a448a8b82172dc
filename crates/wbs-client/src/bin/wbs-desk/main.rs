//! `wbs-desk`: the investigators' online desk.
//!
//! Results go to standard output (the case table), progress and summaries
//! to standard error. A failure is one line, `wbs-desk: …`, and a non-zero
//! exit. The token is read from a file, never from the command line.
//!
//! A token with a TOTP second factor needs a code with each command: from
//! `--totp-code`, else the `WBS_TOTP_CODE` environment variable, else,
//! when the server answers `totp_required` and standard input is a
//! terminal, a prompt. Each command is one request, so one code.
#![forbid(unsafe_code)]
// Doc comments in cli.rs are the --help text, written for a terminal.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use wbs_client::limits::format_bytes;
use wbs_client::terminal::single_line;
use wbs_client::{
    cursor_file_for, read_saved_cursor, read_token_file, save_cursor, token_file_is_exposed,
    validate_cursor, ClientError, DeskClient, Progress,
};
use wbs_protocol::api::DeskCases;

use cli::{Cli, Command, Desk};
use wbs_client::terminal::Failure;

const PROGRAM: &str = "wbs-desk";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return wbs_client::terminal::clap_failure(PROGRAM, &e),
    };
    wbs_client::terminal::finish(PROGRAM, run(cli))
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Cases(args) => {
            let cases = with_totp(&args.desk, |desk| desk.cases())?;
            print_cases(&cases)?;
            note(&format!(
                "{} case(s); newest cursor {}",
                cases.cases.len(),
                single_line(&cases.cursor)
            ));
            Ok(())
        }
        Command::Pull(args) => {
            let cursor_file = cursor_file_for(&args.desk.token_file);
            let since = if args.all {
                None
            } else if let Some(since) = args.since {
                validate_cursor(&since)
                    .map_err(|why| Failure::Error(format!("invalid --since {since:?}: {why}")))?;
                Some(since)
            } else {
                read_saved_cursor(&cursor_file)?
            };
            if args.out.symlink_metadata().is_ok() {
                return Err(Failure::Error(format!(
                    "{} already exists: refusing to overwrite it",
                    args.out.display()
                )));
            }
            match &since {
                Some(c) => note(&format!("pulling what was stored after cursor {c}…")),
                None => note("pulling everything…"),
            }
            let pulled = with_totp(&args.desk, |desk| desk.pull_to(&args.out, since.as_deref()))?;
            save_cursor(&cursor_file, &pulled.cursor)?;
            let s = pulled.summary;
            note(&format!(
                "wrote {}: {} case(s), {} object(s), {}; next cursor {} (saved in {})",
                args.out.display(),
                s.cases,
                s.objects,
                format_bytes(s.bytes),
                pulled.cursor,
                cursor_file.display()
            ));
            Ok(())
        }
        Command::Push(args) => {
            let result = with_totp(&args.desk, |desk| desk.push(&args.bundle))?;
            note(&format!(
                "pushed {}: {} item(s) applied, {} skipped (applied before)",
                args.bundle.display(),
                result.applied,
                result.skipped
            ));
            Ok(())
        }
        Command::Status(args) => {
            let status = args.status;
            with_totp(&args.desk, |desk| desk.set_status(&args.case_id, status))?;
            note(&format!(
                "case {} is now {status} ({} / {})",
                args.case_id,
                status.label_id(),
                status.label_en()
            ));
            Ok(())
        }
    }
}

/// Connects and runs `f` (one request); if the server asks for a TOTP code
/// and none was given, asks for one on the terminal and runs `f` once more.
fn with_totp<T>(
    desk: &Desk,
    f: impl Fn(&DeskClient) -> Result<T, ClientError>,
) -> Result<T, Failure> {
    let mut client = connect(desk)?;
    match f(&client) {
        Err(e)
            if DeskClient::totp_required(&e)
                && !client.has_totp_code()
                && io::stdin().is_terminal() =>
        {
            let code = zeroize::Zeroizing::new(
                rpassword::prompt_password("TOTP code: ")
                    .map_err(|e| Failure::Error(format!("cannot read the code: {e}")))?,
            );
            client.set_totp_code(&code)?;
            Ok(f(&client)?)
        }
        r => Ok(r?),
    }
}

/// Reads the token and makes a desk client that reports progress on stderr.
fn connect(desk: &Desk) -> Result<DeskClient, Failure> {
    let token = read_token_file(&desk.token_file)?;
    if token_file_is_exposed(&desk.token_file) {
        note(&format!(
            "warning: other users may read {}; run: chmod 600 {0}",
            desk.token_file.display()
        ));
    }
    let mut client = DeskClient::new(&desk.server, None, &token)?;
    let code = match &desk.totp_code {
        Some(code) => Some(code.clone()),
        None => std::env::var("WBS_TOTP_CODE")
            .ok()
            .filter(|c| !c.is_empty()),
    };
    if let Some(code) = code {
        client.set_totp_code(&code)?;
    }
    client.on_progress(|event| match event {
        Progress::Uploading { bytes } => note(&format!("uploading {}…", format_bytes(bytes))),
        Progress::Downloading { bytes: Some(bytes) } => {
            note(&format!("downloading {}…", format_bytes(bytes)))
        }
        Progress::Verifying => note("verifying the bundle…"),
        Progress::Retrying { reason } => {
            note(&format!("{}; trying once more…", single_line(&reason)))
        }
        Progress::Waiting { seconds } => {
            note(&format!("the server is busy; trying again in {seconds} s…"))
        }
        _ => {}
    });
    Ok(client)
}

/// A line on stderr. Nothing is done if stderr is closed.
fn note(text: &str) {
    let _ = writeln!(io::stderr(), "{PROGRAM}: {text}");
}

fn print_cases(cases: &DeskCases) -> io::Result<()> {
    let header = ["ID", "RECEIVED", "STATUS", "OBJECTS", "BYTES", "NEW"];
    let rows: Vec<[String; 6]> = cases
        .cases
        .iter()
        .map(|c| {
            [
                single_line(&c.id),
                single_line(&c.received_on),
                c.status.to_string(),
                c.objects.to_string(),
                c.bytes.to_string(),
                c.new_objects.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = io::stdout().lock();
    let line = |out: &mut io::StdoutLock, cells: [&str; 6]| -> io::Result<()> {
        // Text columns left-aligned, numbers right-aligned.
        writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {:>w4$}  {:>w5$}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
            w5 = widths[5],
        )
    };
    line(&mut out, header)?;
    for row in &rows {
        line(&mut out, row.each_ref().map(String::as_str))?;
    }
    out.flush()
}
