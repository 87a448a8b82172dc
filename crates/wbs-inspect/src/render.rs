//! Markdown for people: the report, the thread and sent replies.
//!
//! Everything a reporter wrote is untrusted. It may try to pass for the
//! tool's own text (a fake "Status: closed" heading), carry terminal escape
//! sequences for whoever runs `cat report.md`, or hide a file extension
//! behind a right-to-left override. So single-line fields are stripped of
//! control characters and markdown-escaped, and free text goes into fenced
//! blocks whose fence is longer than any backtick run inside.

use std::fmt::Write as _;

/// Whether `c` is a Unicode bidirectional control, which can make text
/// display in another order than it is stored.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Replaces control characters (but newlines and tabs) and bidi controls
/// with U+FFFD.
fn neutralize(s: &str, keep_newlines: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\t' if keep_newlines => c,
            '\r' if keep_newlines => '\u{fffd}',
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() || is_bidi_control(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// An untrusted value shown inline: one line, markdown specials escaped.
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in neutralize(s, false).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!' | '(' | ')'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Untrusted free text as a fenced block: shown exactly as written, never
/// interpreted as markdown.
pub fn block(s: &str) -> String {
    let text = neutralize(s, true);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let mut out = String::with_capacity(text.len() + 2 * fence.len() + 8);
    let _ = writeln!(out, "{fence}text");
    out.push_str(&text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{fence}");
    out
}

/// A byte count for people: `1.5 MiB (1572864 bytes)`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {} ({bytes} bytes)", UNITS[unit])
}

/// The notice that goes with every list of attachments.
pub const METADATA_NOTICE: &str =
    "> **Attachments may identify the reporter.** Photos can carry EXIF data \
(GPS location, camera serial number, time taken) and documents can carry author names, \
user names and edit histories. That metadata can be evidence too, so wbs-inspect keeps \
every file exactly as it was sent. Handle the files with care, and strip their metadata \
from any copy that leaves the inspectorate.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_cannot_make_headings_links_or_escapes() {
        assert_eq!(
            inline("# Closed\n[x](http://e)"),
            "\\# Closed \\[x\\]\\(http://e\\)"
        );
        assert_eq!(inline("a\u{1b}[2Jb"), "a\u{fffd}\\[2Jb");
    }

    #[test]
    fn block_fence_outlasts_backticks_in_the_text() {
        let b = block("before\n````\nnot the end\n");
        assert!(b.starts_with("`````text\n"));
        assert!(b.ends_with("\n`````\n"));
        let b = block("plain");
        assert_eq!(b, "```text\nplain\n```\n");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(12), "12 bytes");
        assert_eq!(size(1536), "1.5 KiB (1536 bytes)");
    }
}
