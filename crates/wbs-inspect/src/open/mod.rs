//! `wbs-inspect open`: decrypts an export bundle into one folder per case.
//!
//! The bundle is read as a stream (wbs-protocol's `read_export` checks its
//! structure, paths and hashes) and every object is decrypted straight from
//! it, so memory use does not depend on the size of the bundle or of any
//! attachment. The layout of the output is in [`crate::casedir`].

mod decrypt;
mod markdown;
mod merge;
mod visitor;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use wbs_protocol::bundle::{read_export, Limits};

use crate::cli::OpenArgs;
use crate::error::{Error, Result};
use crate::fsutil::ensure_dir;
use crate::keyring::{Keyring, PassphraseSource};

use visitor::Opener;

/// What was opened, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Cases in the bundle.
    pub cases: usize,
    /// Reports decrypted.
    pub reports: usize,
    /// Follow-ups decrypted.
    pub followups: usize,
    /// Inspectorate replies decrypted.
    pub replies: usize,
    /// Attachments (of reports and follow-ups) decrypted and verified.
    pub attachments: usize,
    /// Evidence files that were already there, identical, from an earlier run.
    pub already_there: usize,
    /// Follow-ups and replies that failed verification, kept apart.
    pub unverified: usize,
}

/// Runs `open` and returns the summary line.
pub fn run(args: &OpenArgs) -> Result<String> {
    let source = match &args.passphrase_file {
        Some(f) => PassphraseSource::File(f),
        None => PassphraseSource::Terminal,
    };
    let keyring = Keyring::load_all(&args.identity, source)?;
    let stats = open_bundle(&args.bundle, &keyring, &args.out)?;
    Ok(summary(&stats, &args.out))
}

/// Decrypts the export bundle at `bundle` with `keyring` into `out` (one
/// folder per case, merged with what an earlier bundle left there). The
/// command line and the desktop workbench both open bundles through this.
pub fn open_bundle(bundle_path: &Path, keyring: &Keyring, out: &Path) -> Result<Stats> {
    let bundle = File::open(bundle_path).map_err(|e| Error::read(bundle_path, e))?;
    if bundle.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Error::Usage(format!(
            "{} is a folder, not a bundle",
            bundle_path.display()
        )));
    }
    ensure_dir(out)?;

    let mut opener = Opener::new(out, keyring);
    let read = read_export(
        BufReader::with_capacity(256 * 1024, bundle),
        &Limits::EXPORT,
        &mut opener,
    );
    if let Err(source) = read {
        // The cases before the failure are complete: keep them, as they
        // would be had each file been made durable on its own. (Should this
        // fail too, the first error is the one to report.)
        let _ = opener.commit();
        // The visitor keeps its own, more precise error; wbs-protocol only
        // sees a summary of it.
        return Err(opener.take_failure().unwrap_or(Error::Bundle {
            path: bundle_path.to_path_buf(),
            source,
        }));
    }
    opener.finish()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary(s: &Stats, out: &Path) -> String {
    let mut line = format!(
        "opened {} ({}, {}, {}, {} verified) into {}",
        plural(s.cases, "case", "cases"),
        plural(s.reports, "report", "reports"),
        plural(s.followups, "follow-up", "follow-ups"),
        plural(s.replies, "reply", "replies"),
        plural(s.attachments, "attachment", "attachments"),
        out.display()
    );
    if s.unverified > 0 {
        let _ = std::fmt::Write::write_fmt(
            &mut line,
            format_args!(
                "; {} FAILED VERIFICATION and kept apart in <case>/unverified/ (see the warnings)",
                plural(s.unverified, "object", "objects")
            ),
        );
    }
    if s.already_there > 0 {
        let _ = std::fmt::Write::write_fmt(
            &mut line,
            format_args!(
                "; {} already there from an earlier run",
                plural(s.already_there, "file was", "files were")
            ),
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_well() {
        let s = Stats {
            cases: 3,
            reports: 2,
            followups: 1,
            replies: 0,
            attachments: 5,
            already_there: 0,
            unverified: 0,
        };
        assert_eq!(
            summary(&s, Path::new("DIR")),
            "opened 3 cases (2 reports, 1 follow-up, 0 replies, 5 attachments verified) into DIR"
        );
        let s = Stats {
            cases: 1,
            already_there: 1,
            ..s
        };
        assert!(
            summary(&s, Path::new("D")).ends_with("; 1 file was already there from an earlier run")
        );
    }
}
