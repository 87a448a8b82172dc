//! Command-line output: one-line failures, and text from elsewhere made safe
//! to show on a terminal.
//!
//! Server error messages, case identifiers and decrypted replies are not
//! written by the person at the terminal. Control characters in them could
//! move the cursor, rewrite earlier lines, change the terminal's title or
//! write the clipboard (OSC 52), and bidi controls could make them read
//! as something else, so they are replaced before anything is printed. The
//! rule is `wbs_protocol::text`, shared with wbs-inspect; [`single_line`]
//! and [`multi_line`] are the only ways this crate's commands print text
//! from elsewhere.

/// What a command line prints when clap refuses its arguments: `--help` and
/// `--version` are printed as usual (exit 0); anything else becomes one line
/// on stderr, `PROGRAM: what is wrong (see --help)`, exit 2.
pub fn clap_failure(program: &str, err: &clap::Error) -> std::process::ExitCode {
    use std::io::Write;
    if !err.use_stderr() {
        // Help or version: a broken pipe here is not an error either.
        let _ = err.print();
        return std::process::ExitCode::SUCCESS;
    }
    let _ = writeln!(std::io::stderr(), "{program}: {}", clap_error_line(err));
    std::process::ExitCode::from(2)
}

/// clap's message on one line: its first paragraph (which lists the
/// missing arguments, when some are), without the `error:` prefix.
pub fn clap_error_line(err: &clap::Error) -> String {
    if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "a command is missing (see --help)".into();
    }
    let text = err.to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    let first = first.trim_start().strip_prefix("error:").unwrap_or(first);
    format!("{} (see --help)", single_line(first))
}

/// One line: line breaks and tabs become spaces, every other character a
/// terminal could act on U+FFFD (`wbs_protocol::text::terminal_line`), runs
/// of white space shrink to one, and the ends are trimmed.
pub fn single_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = true;
    for c in wbs_protocol::text::terminal_line(s).chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == ' ' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// Several lines: newlines and tabs stay, `\r\n` becomes `\n`, every other
/// character a terminal could act on becomes U+FFFD so that its presence
/// stays visible (`wbs_protocol::text::terminal_text`).
pub fn multi_line(s: &str) -> String {
    wbs_protocol::text::terminal_text(s)
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Something to tell the user, on one line.
    Error(String),
    /// Standard output was closed (`… | head`): not an error.
    BrokenPipe,
}

impl From<crate::ClientError> for Failure {
    fn from(e: crate::ClientError) -> Self {
        Failure::Error(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Error(format!("cannot write the output: {e}"))
        }
    }
}

/// Ends a command: success and a closed standard output exit 0; a failure
/// prints one line, `PROGRAM: message`, on stderr and exits 1.
pub fn finish(program: &str, result: Result<(), Failure>) -> std::process::ExitCode {
    match result {
        Ok(()) | Err(Failure::BrokenPipe) => std::process::ExitCode::SUCCESS,
        Err(Failure::Error(message)) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{program}: {}", single_line(&message));
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_removes_escapes_and_newlines() {
        assert_eq!(
            single_line("  bad\x1b[2Jthing\r\nnext\tline  "),
            "bad\u{FFFD}[2Jthing next line"
        );
        assert_eq!(single_line(""), "");
    }

    /// What a hostile server or bundle would send: OSC 52 (clipboard), CSI,
    /// their one-byte C1 forms, and a bidi override.
    const HOSTILE: &str = "id\u{1b}]52;c;cm0gLXJmIH4K\u{7} \u{1b}[2J\u{9b}1A\u{9d}0;t\u{9c} \
                           invoice\u{202e}fdp.exe \u{2067}x\u{2069}\u{2028}y";

    fn terminal_acts_on(s: &str) -> Vec<char> {
        s.chars()
            .filter(|&c| {
                (c.is_control() && c != '\n' && c != '\t')
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
                    || matches!(c, '\u{2028}' | '\u{2029}')
            })
            .collect()
    }

    #[test]
    fn no_escape_sequence_or_bidi_control_reaches_the_terminal() {
        assert_eq!(terminal_acts_on(&single_line(HOSTILE)), Vec::<char>::new());
        assert_eq!(terminal_acts_on(&multi_line(HOSTILE)), Vec::<char>::new());
        assert_eq!(
            single_line("invoice\u{202e}fdp.exe"),
            "invoice\u{FFFD}fdp.exe"
        );
        assert_eq!(multi_line("a\u{9b}2Jb\nc"), "a\u{FFFD}2Jb\nc");
    }

    #[test]
    fn multi_line_keeps_lines_but_not_escapes() {
        assert_eq!(
            multi_line("a\r\nb\x1b]0;title\x07"),
            "a\nb\u{FFFD}]0;title\u{FFFD}"
        );
        assert_eq!(multi_line("x\ty\nz"), "x\ty\nz");
    }
}
