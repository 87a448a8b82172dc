//! `wbs-server`: runs the drop box, and manages investigator tokens.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::{IsTerminal, Read};

use clap::{Parser, Subcommand};
use sha2::Digest;
use wbs_server::commands::{self, CommandError};
use wbs_server::tokens::{self, TokenOp};
use wbs_server::totp::TotpSecret;
use wbs_server::Settings;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "wbs-server",
    version,
    about = "WBS: the anonymous whistleblowing drop box server"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Separate address for the investigator desk routes.
    #[arg(long, value_name = "ADDR")]
    desk_listen: Option<std::net::SocketAddr>,
    /// Data directory [default: ./wbs-data].
    #[arg(long, value_name = "DIR", global = true)]
    data: Option<PathBuf>,
    /// A PostgreSQL database instead of sled in --data: a URL
    /// (postgresql://user@host/db) or libpq's key=value form. A password here is
    /// visible to other users in the process list: prefer WBS_DATABASE_URL or the
    /// config file's [store] database_url.
    #[arg(long, value_name = "URL", global = true)]
    database: Option<wbs_server::config::DatabaseUrl>,
    /// A .pub recipient file or a folder of them [default: keys/].
    #[arg(long, value_name = "PATH")]
    recipients: Option<PathBuf>,
    /// Proof-of-work difficulty in bits; 0 turns it off.
    #[arg(long, value_name = "BITS")]
    pow_difficulty: Option<u8>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Manage investigator tokens (through the running server if there is one).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Re-hash every stored object against its recorded SHA-256; list missing or damaged ones
    /// (works while the server runs).
    Verify,
    /// Write a consistent backup of the whole store to a new file (works while the server runs).
    Backup {
        /// The backup file to create; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into a new store: an empty data directory (--data), or a database
    /// without WBS records (--database).
    Restore {
        /// A file made by `wbs-server backup`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token; it is printed once (the last line of standard output) and only its
    /// hash is stored.
    Add {
        /// A name for the investigator or desk (shown in the audit log).
        name: String,
        /// Enrol a TOTP second factor too: prints an otpauth:// URI (standard output, before the
        /// token) and shows it as a QR code (standard error) for an authenticator app.
        #[arg(long)]
        totp: bool,
    },
    /// List token names, and which have TOTP.
    List,
    /// Enrol or reset the TOTP second factor of an existing token (or remove it). Needs the
    /// token itself, from --token-file or standard input: its TOTP secret is sealed under it.
    Totp {
        /// The token's name.
        name: String,
        /// A file holding the token (its first line); without it, standard input.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Remove the second factor instead (the token then logs in alone, unless the server
        /// sets require_totp).
        #[arg(long)]
        remove: bool,
    },
    /// Revoke a token by name.
    Revoke {
        /// The token's name.
        name: String,
    },
}

fn settings(cli: &Cli) -> Result<Settings, String> {
    let mut s = match &cli.config {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    };
    s.apply_env(|k| std::env::var(k).ok())?;
    if let Some(v) = cli.listen {
        s.listen = v;
    }
    if let Some(v) = cli.desk_listen {
        s.desk_listen = Some(v);
    }
    if let Some(v) = &cli.data {
        s.data = v.clone();
    }
    if let Some(v) = &cli.database {
        s.store.database_url = Some(v.clone());
    }
    if let Some(v) = &cli.recipients {
        s.recipients = v.clone();
    }
    if let Some(v) = cli.pow_difficulty {
        s.pow.difficulty = v;
    }
    Ok(s)
}

fn token_command(settings: &Settings, action: &TokenAction) -> Result<(), CommandError> {
    let mut note = |line: &str| eprintln!("{line}");
    match action {
        TokenAction::Add { name, totp } => {
            let name = &tokens::parse_name(name)?;
            let (token, hash) = tokens::new_token();
            let secret = totp.then(TotpSecret::generate);
            let op = TokenOp::Add {
                name: name.clone(),
                hash,
                totp: secret.as_ref().map(|s| s.seal(&token)),
            };
            commands::token(&settings.location(), &op, &mut note)?;
            if let Some(secret) = &secret {
                show_enrolment(name, secret);
            }
            eprintln!("Token for {name:?} created. It is shown only this once: store it in a file readable only by the investigator.");
            println!("{}", token.as_str());
        }
        TokenAction::List => {
            for t in commands::token(&settings.location(), &TokenOp::List, &mut note)? {
                let totp = if t.totp { "totp" } else { "no totp" };
                println!("{}\tcreated {}\t{totp}", t.name, t.created_on);
            }
        }
        TokenAction::Totp {
            name,
            token_file,
            remove,
        } => {
            let name = &tokens::parse_name(name)?;
            let token = read_token(name, token_file.as_deref()).map_err(CommandError::Input)?;
            let hash = sha2::Sha256::digest(token.as_bytes()).into();
            let secret = (!remove).then(TotpSecret::generate);
            let op = TokenOp::Totp {
                name: name.clone(),
                hash,
                totp: secret.as_ref().map(|s| s.seal(&token)),
            };
            commands::token(&settings.location(), &op, &mut note)?;
            match &secret {
                Some(secret) => {
                    show_enrolment(name, secret);
                    eprintln!("TOTP for {name:?} set; any earlier authenticator entry for it no longer works.");
                }
                None => eprintln!("TOTP for {name:?} removed."),
            }
        }
        TokenAction::Revoke { name } => {
            let name = &tokens::parse_name(name)?;
            let op = TokenOp::Revoke { name: name.clone() };
            commands::token(&settings.location(), &op, &mut note)?;
            eprintln!("Token {name:?} revoked.");
        }
    }
    Ok(())
}

/// Shows a new TOTP secret to the operator: the QR code on standard error
/// (for the terminal), the URI on standard output. Never logged.
fn show_enrolment(name: &str, secret: &TotpSecret) {
    let e = tokens::enrolment(name, secret);
    eprintln!("Scan this QR code with the investigator's authenticator app (or enter the URI below by hand):");
    eprintln!("{}", e.qr.as_str());
    println!("{}", e.uri.as_str());
}

/// The token for `token totp`: from `file`, else standard input (asked for
/// without echo on a terminal).
fn read_token(name: &str, file: Option<&std::path::Path>) -> Result<Zeroizing<String>, String> {
    let text = match file {
        Some(f) => Zeroizing::new(
            std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read the token file {}: {e}", f.display()))?,
        ),
        None if std::io::stdin().is_terminal() => Zeroizing::new(
            rpassword::prompt_password(format!("Token of {name:?}: "))
                .map_err(|e| format!("cannot read the token: {e}"))?,
        ),
        None => {
            let mut text = Zeroizing::new(String::new());
            std::io::Read::read_to_string(&mut std::io::stdin().take(4096), &mut text)
                .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
            text
        }
    };
    tokens::parse_token(&text)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing requests in flight");
}

/// Threads for storage calls and file writes (tokio's default is 512).
/// Each call is short (a sled read, an `fsync`, a chunk written), so more
/// threads than this only wait on the same disk; and every extra thread
/// that allocates can take a malloc arena of its own, which stays resident
/// after a burst (docs/BENCHMARKS.md, server memory under load).
const BLOCKING_THREADS: usize = 16;

fn run_server(settings: Settings) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let listen = settings.listen;
    let desk_listen = settings.desk_listen;
    // Outside the runtime: the database client blocks on a runtime of its
    // own, which cannot start on one of tokio's threads.
    let app = wbs_server::build_state(settings)?;
    // Likewise the store is dropped (its database connections closed)
    // only after the runtime is gone.
    let store = app.store.clone();
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let desk = match desk_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
            ),
            None => None,
        };
        tracing::info!(
            "WBS serving {} on http://{}{}",
            app.settings.organization,
            listener.local_addr().map_err(|e| e.to_string())?,
            match &desk {
                Some(d) => format!(
                    " (desk on http://{})",
                    d.local_addr().map(|a| a.to_string()).unwrap_or_default()
                ),
                None => String::new(),
            }
        );
        tracing::info!(
            "{} recipient(s); proof-of-work {} bits; store: {}",
            app.recipients.len(),
            app.settings.pow.difficulty,
            app.settings.location()
        );
        wbs_server::launch_with_tcp_listener(app, listener, desk, shutdown_signal()).await
    });
    drop(runtime);
    drop(store);
    served
}

fn main() -> ExitCode {
    // Whatever the umask the server was started with (000 in some service
    // managers' defaults, 022 in most), everything it creates in the data
    // directory, and the backups it writes, are the server user's alone:
    // sled creates its files with the process umask. Blob files and
    // directories carry explicit modes too (wbs-store), and a data
    // directory others can enter is refused.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .without_time()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WBS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
                // The database client logs its statements with their
                // parameters at debug level: token and lookup hashes,
                // session hashes. Never in the server's log, whatever
                // WBS_LOG asks for.
                .add_directive("tokio_postgres=warn".parse().expect("valid directive"))
                .add_directive("postgres=warn".parse().expect("valid directive")),
        )
        .init();
    let mut note = |line: &str| eprintln!("{line}");
    let result = settings(&cli).and_then(|s| {
        let done = match &cli.command {
            Some(Command::Token { action }) => token_command(&s, action),
            Some(Command::Verify) => {
                commands::verify(&s.location(), &mut |line| println!("{line}"), &mut note)
                    .map(|summary| println!("{}", summary.line()))
            }
            Some(Command::Backup { out }) => {
                commands::backup(&s.location(), out, &mut note).map(|m| {
                    println!(
                        "backup written to {} and checked: {}",
                        out.display(),
                        m.summary()
                    )
                })
            }
            Some(Command::Restore { file }) => commands::restore(file, &s.location()).map(|m| {
                println!(
                    "restored {} into {}; every file matched its SHA-256. Start wbs-server on it.",
                    m.summary(),
                    s.location()
                )
            }),
            None => return run_server(s),
        };
        done.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wbs-server: {e}");
            ExitCode::FAILURE
        }
    }
}
