//! `wbs-report`: the reporter's command line.
//!
//! Standard output carries only results: for `submit`, the receipt code
//! alone on the last line; for `status`, the status report. Progress,
//! warnings and errors go to standard error. A failure is one line,
//! `wbs-report: …`, and a non-zero exit.
#![forbid(unsafe_code)]
// Doc comments in cli.rs are the --help text, written for a terminal.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

mod clean;
mod cli;

use std::io::{self, BufRead, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use wbs_client::limits::format_bytes;
use wbs_client::terminal::{multi_line, single_line};
use wbs_client::{
    is_cleartext_to_internet, CaseStatus, Client, FollowUpInput, Progress, ReplyContent,
    SubmissionInput,
};
use wbs_protocol::message::MAX_DOCUMENT_LEN;
use wbs_protocol::{ReceiptCode, Status};

use cli::{Cli, Command, Connection};
use wbs_client::terminal::Failure;

const PROGRAM: &str = "wbs-report";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return wbs_client::terminal::clap_failure(PROGRAM, &e),
    };
    wbs_client::terminal::finish(PROGRAM, run(cli))
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Submit(args) => {
            let message = read_message(&args.message)?;
            let ask = can_ask(&[args.message.as_os_str() == "-"]);
            let prepared = clean::prepare(&args.attachments, args.cleaning, ask, &note)?;
            let mut client = connect(&args.connection)?;
            client.set_resume(args.resuming.resume);
            let input = SubmissionInput {
                message,
                title: args.title,
                category: args.category,
                details: None,
                attachments: Vec::new(),
                prepared,
                contact: args.contact,
            };
            let submitted = client.submit(&input)?;
            match &submitted.received_on {
                Some(day) => note(&format!("your report was stored on {day}.")),
                None => note("your report was stored."),
            }
            note("Simpan kode tanda terima ini di tempat aman: hanya dengan kode ini Anda dapat melihat status dan balasan. Tidak ada yang dapat memulihkannya jika hilang.");
            note("Keep this receipt code somewhere safe: it is the only way to see the status and the replies. Nobody can recover it if it is lost.");
            let mut out = io::stdout().lock();
            writeln!(out, "{}", &*submitted.code.display_grouped())?;
            out.flush()?;
            Ok(())
        }
        Command::Status(args) => {
            let code = read_receipt(&args.receipt)?;
            let client = connect(&args.connection)?;
            let status = client.status(&code)?;
            print_status(&status)?;
            Ok(())
        }
        Command::FollowUp(args) => {
            if args.receipt == "-" && args.message.as_os_str() == "-" {
                return Err(Failure::Error(
                    "--receipt - and --message - cannot both read standard input".into(),
                ));
            }
            let code = read_receipt(&args.receipt)?;
            let message = read_message(&args.message)?;
            let ask = can_ask(&[args.message.as_os_str() == "-", args.receipt == "-"]);
            let prepared = clean::prepare(&args.attachments, args.cleaning, ask, &note)?;
            let mut client = connect(&args.connection)?;
            client.set_resume(args.resuming.resume);
            let input = FollowUpInput {
                message,
                attachments: Vec::new(),
                prepared,
            };
            match client.follow_up(&code, &input)? {
                Some(day) => note(&format!("your follow-up was stored on {day}.")),
                None => note("your follow-up was stored."),
            }
            Ok(())
        }
    }
}

/// A client for the server, reporting progress on stderr.
fn connect(connection: &Connection) -> Result<Client, Failure> {
    let mut client = Client::new(&connection.server, connection.proxy.as_deref())?;
    if let Some(path) = &connection.recipients {
        client.pin_recipients(wbs_client::read_recipient_files(path)?);
    }
    if connection.proxy.is_none() && is_cleartext_to_internet(client.server()) {
        note("warning: plain http:// over the internet: what you send stays encrypted, but anyone on the way can see that you use this drop box; prefer https:// or an onion address over Tor.");
    }
    client.on_progress(|event| match event {
        Progress::Encrypting { name } => note(&format!("encrypting {}…", single_line(&name))),
        Progress::SolvingPow { difficulty } => note(&format!(
            "solving the anti-spam puzzle (difficulty {difficulty})…"
        )),
        Progress::Uploading { bytes } => note(&format!("uploading {}…", format_bytes(bytes))),
        Progress::Retrying { reason } => {
            note(&format!("{}; trying once more…", single_line(&reason)))
        }
        Progress::Waiting { seconds } => {
            note(&format!("the server is busy; trying again in {seconds} s…"))
        }
        Progress::UploadingFrom { offset, total } if offset > 0 => note(&format!(
            "resuming the upload at {} of {}…",
            format_bytes(offset),
            format_bytes(total)
        )),
        Progress::UploadingFrom { total, .. } => note(&format!(
            "uploading an attachment of {}…",
            format_bytes(total)
        )),
        Progress::Resuming { offset, total } => note(&format!(
            "the connection broke after {} of {}; resuming…",
            format_bytes(offset),
            format_bytes(total)
        )),
        _ => {}
    });
    Ok(client)
}

/// Whether the reporter can be asked at the terminal: standard input and
/// error are a terminal, and standard input was not used for anything else.
fn can_ask(stdin_used: &[bool]) -> bool {
    use std::io::IsTerminal;
    !stdin_used.iter().any(|&used| used) && io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// A line on stderr. Nothing is done if stderr is closed.
fn note(text: &str) {
    let _ = writeln!(io::stderr(), "{PROGRAM}: {text}");
}

/// Reads a message file (`-`: standard input) as UTF-8 text.
fn read_message(path: &Path) -> Result<String, Failure> {
    let (shown, reader): (String, Box<dyn Read>) = if path.as_os_str() == "-" {
        ("standard input".into(), Box::new(io::stdin().lock()))
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| Failure::Error(format!("cannot read {}: {e}", path.display())))?;
        (path.display().to_string(), Box::new(file))
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_DOCUMENT_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::Error(format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_DOCUMENT_LEN {
        return Err(Failure::Error(format!(
            "the message in {shown} is too long (over {}); put long texts in an attachment",
            format_bytes(MAX_DOCUMENT_LEN)
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| Failure::Error(format!("the message in {shown} is not UTF-8 text")))
}

/// Parses the receipt code (`-`: the first line of standard input, or a
/// prompt that does not echo when standard input is a terminal) before any
/// request, so a typo is caught here.
fn read_receipt(arg: &str) -> Result<ReceiptCode, Failure> {
    use std::io::IsTerminal;
    let text = if arg == "-" && io::stdin().is_terminal() {
        zeroize::Zeroizing::new(
            rpassword::prompt_password("Kode tanda terima / Receipt code: ")
                .map_err(|e| Failure::Error(format!("cannot read the receipt code: {e}")))?,
        )
    } else if arg == "-" {
        let mut line = zeroize::Zeroizing::new(String::new());
        io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::Error(format!("cannot read the receipt code: {e}")))?;
        line
    } else {
        zeroize::Zeroizing::new(arg.to_string())
    };
    ReceiptCode::parse(&text).map_err(|e| Failure::Error(format!("invalid receipt code: {e}")))
}

fn print_status(status: &CaseStatus) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let withheld = status.withheld();
    if withheld > 0 {
        // First, so it cannot scroll away: a reply that fails verification
        // may be somebody's attempt to make the reporter reveal themself.
        writeln!(
            out,
            "PERINGATAN / WARNING: {withheld} {} withheld: it could not be verified as the \
             inspectorate's own (someone else, such as whoever controls the server, may have \
             written it to trick you). Its text is not shown. The inspectorate never asks for \
             your identity in an unverified message.",
            if withheld == 1 {
                "reply was"
            } else {
                "replies were"
            }
        )?;
        writeln!(out)?;
        eprintln!(
            "{PROGRAM}: warning: {withheld} {} withheld: not verified as the inspectorate's own",
            if withheld == 1 { "reply" } else { "replies" }
        );
    }
    let s = status.status;
    writeln!(
        out,
        "Status: {} / {} ({s}){}",
        s.label_id(),
        s.label_en(),
        confirmation(status, s)
    )?;
    writeln!(
        out,
        "Diterima / Received: {}",
        single_line(&status.received_on)
    )?;
    writeln!(
        out,
        "Tindak lanjut terkirim / Follow-ups sent: {}",
        status.followups
    )?;
    writeln!(out)?;
    writeln!(out, "Riwayat / History (as the server shows it):")?;
    for entry in &status.history {
        writeln!(
            out,
            "  {}  {} / {}{}",
            single_line(&entry.on),
            entry.status.label_id(),
            entry.status.label_en(),
            confirmation(status, entry.status)
        )?;
    }
    writeln!(out)?;
    let shown: Vec<_> = status
        .replies
        .iter()
        .filter(|r| r.content != ReplyContent::Duplicate)
        .collect();
    if shown.is_empty() {
        writeln!(out, "Balasan / Replies: none yet")?;
    } else {
        writeln!(out, "Balasan / Replies: {}", shown.len())?;
        for reply in shown {
            writeln!(out)?;
            writeln!(out, "--- {} ---", single_line(&reply.on))?;
            match &reply.content {
                ReplyContent::Verified { body, status: set } => {
                    if let Some(set) = set {
                        writeln!(
                            out,
                            "[terverifikasi / verified; status: {} / {}]",
                            set.label_id(),
                            set.label_en()
                        )?;
                    } else {
                        writeln!(out, "[terverifikasi / verified]")?;
                    }
                    if !body.trim().is_empty() {
                        writeln!(out, "{}", multi_line(body.trim_end()))?;
                    }
                }
                ReplyContent::Withheld => writeln!(
                    out,
                    "(ditahan / withheld: this reply could not be verified as the \
                     inspectorate's; its text is not shown)"
                )?,
                ReplyContent::Undecryptable => writeln!(
                    out,
                    "(this reply cannot be decrypted with this receipt code: it is damaged)"
                )?,
                ReplyContent::Duplicate => {}
            }
        }
    }
    out.flush()
}

/// Whether a status shown by the server was confirmed by a verified reply.
fn confirmation(status: &CaseStatus, s: Status) -> &'static str {
    if s == Status::Received {
        ""
    } else if status.confirmed(s) {
        "  [dikonfirmasi inspektorat / confirmed by the inspectorate]"
    } else {
        "  [belum dikonfirmasi / not confirmed by a signed reply]"
    }
}
