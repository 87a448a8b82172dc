//! Text from elsewhere, made safe to show on a terminal.
//!
//! Everything a bundle or the server carries (case ids, dates, error
//! messages, reply bodies, attachment names) was written by somebody else,
//! possibly an attacker. A terminal acts on some characters instead of
//! showing them:
//!
//! - C0 controls and DEL: `ESC` starts every escape sequence, e.g.
//!   `ESC [ 2 J` (CSI: clear the screen, move the cursor, recolour) and
//!   `ESC ] 52 ; c ; <base64> BEL` (OSC 52: write the clipboard, so the next
//!   paste runs the attacker's command), `ESC ] 0 ; … BEL` (the window
//!   title), `ESC ] 8 ; ; <url>` (a hidden hyperlink); `\r` rewrites the line
//!   just shown;
//! - C1 controls (U+0080 to U+009F): many terminals take U+009B as CSI and
//!   U+009D as OSC, escape sequences without an `ESC`;
//! - bidirectional controls (U+202A–U+202E, U+2066–U+2069 and the marks):
//!   terminals that apply the Unicode bidi algorithm show the text in
//!   another order than it is stored, so `invoice\u{202e}fdp.exe` reads as
//!   `invoiceexe.pdf`, and a case id or key can pass for another;
//! - U+2028 and U+2029, line and paragraph separators that some terminals
//!   and viewers break lines on.
//!
//! Every one of them is replaced by U+FFFD, so the text stays visible (and
//! so does the fact that somebody tried) but the terminal never acts on it.
//! What remains of a sequence after its `ESC` (`]52;c;…`) is plain text.
//!
//! This is the one place the rule lives: wbs-inspect, wbs-report and
//! wbs-desk all go through it.

/// Whether `c` is a Unicode bidirectional control, which can make text
/// display in another order than it is stored.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether a terminal could act on `c` instead of showing it (see the
/// module notes): C0 and C1 controls, DEL, bidi controls and the Unicode
/// line and paragraph separators.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// One line for a terminal: line breaks and tabs become spaces, every other
/// unsafe character U+FFFD.
pub fn terminal_line(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => ' ',
            c if is_unsafe_char(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Several lines for a terminal: `\n` and tabs stay (`\r\n` becomes `\n`),
/// every other unsafe character becomes U+FFFD.
pub fn terminal_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if is_unsafe_char(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequences the review named, and their relatives.
    const ATTACKS: &[&str] = &[
        // OSC 52: write "rm -rf ~" to the clipboard, BEL- and ST-terminated.
        "\u{1b}]52;c;cm0gLXJmIH4K\u{7}",
        "\u{1b}]52;c;cm0gLXJmIH4K\u{1b}\\",
        // OSC 0 (title) and OSC 8 (hyperlink).
        "\u{1b}]0;owned\u{7}",
        "\u{1b}]8;;https://evil.example\u{1b}\\click\u{1b}]8;;\u{1b}\\",
        // CSI: clear screen, cursor up and erase the line, colours.
        "\u{1b}[2J\u{1b}[1A\u{1b}[2K\u{1b}[31m",
        // C1 CSI and OSC, with the C1 string terminator.
        "\u{9b}2J\u{9d}52;c;cm0gLXJmIH4K\u{9c}",
        // A carriage return that rewrites what was shown, and DEL.
        "status: closed\rstatus: open\u{7f}",
        // Bidi overrides and isolates.
        "invoice\u{202e}fdp.exe \u{2066}x\u{2069} \u{200f}",
    ];

    fn acted_on(s: &str) -> bool {
        s.chars().any(|c| {
            c.is_control() && c != '\n' && c != '\t'
                || is_bidi_control(c)
                || matches!(c, '\u{2028}' | '\u{2029}')
        })
    }

    #[test]
    fn nothing_a_terminal_acts_on_survives() {
        for a in ATTACKS {
            let line = terminal_line(a);
            assert!(!acted_on(&line) && !line.contains('\n'), "{line:?}");
            let text = terminal_text(&format!("{a}\nnext line\r\n{a}"));
            assert!(!acted_on(&text), "{text:?}");
        }
    }

    #[test]
    fn the_rest_of_the_text_stays_visible() {
        assert_eq!(
            terminal_line("\u{1b}]52;c;cm0g\u{7}"),
            "\u{fffd}]52;c;cm0g\u{fffd}"
        );
        assert_eq!(terminal_line("a\u{9b}2Jb"), "a\u{fffd}2Jb");
        assert_eq!(terminal_line("e\u{202e}xe"), "e\u{fffd}xe");
        assert_eq!(terminal_line("a\nb\tc\u{2028}d"), "a b c d");
        assert_eq!(terminal_text("a\r\nb\tc\rd"), "a\nb\tc\u{fffd}d");
        // Ordinary text in any script is untouched.
        for ok in [
            "Terima kasih, sudah kami terima.",
            "日本語",
            "مرحبا",
            "Ünïcödé ✓",
        ] {
            assert_eq!(terminal_line(ok), ok);
            assert_eq!(terminal_text(ok), ok);
        }
    }
}
