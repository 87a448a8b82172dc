//! Markdown for people: the report, the thread and sent replies.
//!
//! Everything a reporter wrote is untrusted, and so is everything the server
//! wrote. A value may try to pass for the tool's own text (a fake "Status:
//! closed" heading), become a link or an image that a markdown viewer loads
//! (and so tells a third party when the file was opened), carry terminal
//! escape sequences for whoever runs `cat report.md`, or hide a file
//! extension behind a right-to-left override. So:
//!
//! - every value is first stripped of control characters, bidi controls and
//!   Unicode line separators ([`neutralize`]);
//! - a value in running text, a heading or a table cell ([`inline`]) has
//!   every ASCII punctuation character that any common markdown dialect
//!   gives a meaning to backslash-escaped. CommonMark makes any escaped ASCII
//!   punctuation literal, so no character of the value can open a link, an
//!   image, an HTML tag, an autolink (`<https://…>`), an entity, emphasis or
//!   a table cell; and with `:`, `.` and `@` escaped, no renderer's bare-URL
//!   autolinking (GFM's `https://…`, `www.…`, `a@b.c`, markdown-it's
//!   linkify) finds a URL in it either;
//! - a file path or a hash in a table ([`code_cell`]) is a code span whose backtick
//!   fence is longer than any backtick run inside, so it cannot be closed
//!   early, and is padded when it starts or ends with a backtick;
//! - free text goes into fenced blocks ([`block`]) whose fence is longer
//!   than any backtick run inside.
//!
//! Values the server gave (dates, statuses, numbering) are validated and
//! labelled [`AS_THE_SERVER_REPORTS`]: only what was decrypted is the
//! reporter's own word.

use std::fmt::Write as _;

/// The same rule as for terminals: markdown files are read with `cat` too.
pub use wbs_protocol::text::is_bidi_control;
use wbs_protocol::text::is_unsafe_char;

/// Replaces control characters (but newlines and tabs when `keep_newlines`)
/// and bidi controls with U+FFFD. Without `keep_newlines`, line breaks of
/// any kind (U+2028 and U+2029 too) and tabs become spaces.
fn neutralize(s: &str, keep_newlines: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\t' if keep_newlines => c,
            '\r' if keep_newlines => '\u{fffd}',
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => ' ',
            c if is_unsafe_char(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Whether [`inline`] escapes `c`: all ASCII punctuation but the few that no
/// markdown dialect gives a meaning to inside a line.
fn needs_escape(c: char) -> bool {
    c.is_ascii_punctuation() && !matches!(c, ',' | ';' | '?' | '\'' | '"' | '/' | '%')
}

/// An untrusted value shown inline, in running text, a heading or a table
/// cell: one line, and nothing in it is markdown (see the module notes).
pub fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in neutralize(s, false).chars() {
        if needs_escape(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An untrusted value (a file path, a hash) as a code span in a table cell:
/// shown exactly (but for control characters), never interpreted. A `|`
/// would end the cell even inside a code span, so it is written `\|`,
/// which GFM tables turn back into `|`.
pub fn code_cell(s: &str) -> String {
    code_span(&neutralize(s, false).replace('|', "\\|"))
}

fn code_span(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text) + 1);
    // A code span drops one space at each end when it has both, and a
    // backtick next to the fence would lengthen it: pad with a space then.
    let pad = if text.is_empty() || text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

fn longest_backtick_run(text: &str) -> usize {
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
    longest
}

/// Untrusted free text as a fenced block: shown exactly as written, never
/// interpreted as markdown.
pub fn block(s: &str) -> String {
    let text = neutralize(s, true);
    let fence = "`".repeat((longest_backtick_run(&text) + 1).max(3));
    let mut out = String::with_capacity(text.len() + 2 * fence.len() + 8);
    let _ = writeln!(out, "{fence}text");
    out.push_str(&text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{fence}");
    out
}

/// The label of every value that only the server vouches for (dates,
/// statuses, the numbering of follow-ups and replies): the server could
/// have changed it, unlike what was decrypted.
pub const AS_THE_SERVER_REPORTS: &str = "as the server reports / menurut server";

/// A day the server gave: shown as it is only if it is a real `YYYY-MM-DD`
/// calendar date, otherwise flagged (the value, escaped, after the flag).
pub fn server_date(on: &str) -> String {
    if wbs_protocol::date::unix_days_from_date(on).is_some() {
        on.to_string()
    } else {
        format!("not a valid date: {}", code_cell(on))
    }
}

/// A status the server gave, with its labels. Statuses are an enum: an
/// unknown one never gets this far (the bundle is refused).
pub fn server_status(status: wbs_protocol::Status) -> String {
    format!(
        "`{}` ({} / {})",
        status.as_str(),
        status.label_en(),
        status.label_id()
    )
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
    use pulldown_cmark::{Event, Options, Parser, Tag};

    /// Values an attacker would try: links, images, HTML, autolinks, bare
    /// URLs, entities, line-start syntax, table pipes, backtick runs,
    /// terminal escapes and bidi overrides.
    const HOSTILE: &[&str] = &[
        "![](https://evil.example/pixel.png)",
        "`![x](https://evil.example/a.png)`",
        "a`b``c```d",
        "``",
        "` leading and trailing `",
        "[click](http://evil.example) [ref][1]\n\n[1]: http://evil.example",
        "<img src=https://evil.example/x.png>",
        "<https://evil.example/autolink>",
        "<mailto:a@evil.example>",
        "https://evil.example/bare www.evil.example evil.example a@evil.example",
        "&lt;script&gt; &#x3C;b&#x3E; &amp;",
        "# heading\n> quote\n- item\n1. one\n---\n===",
        "cell | break || and \\| escaped",
        "**bold** _em_ ~~gone~~ [^1] $x$",
        "\u{1b}]52;c;ZWNobyBldmls\u{7} \u{1b}[2J \u{9b}31m \u{9d}0;t\u{9c}",
        "invoice\u{202e}fdp.exe",
        "line\u{2028}separator\u{2029}paragraph",
    ];

    fn options() -> Options {
        Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_MATH
    }

    /// Parses `md` and fails on anything but text, code and the structure
    /// the test itself wrote; returns the text (and code) of the document.
    fn only_text(md: &str) -> String {
        let mut text = String::new();
        for event in Parser::new_ext(md, options()) {
            match event {
                Event::Text(t) | Event::Code(t) => text.push_str(&t),
                Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::HtmlBlock)
                | Event::Html(_)
                | Event::InlineHtml(_)
                | Event::FootnoteReference(_)
                | Event::InlineMath(_)
                | Event::DisplayMath(_)
                | Event::TaskListMarker(_) => panic!("{event:?} from {md:?}"),
                Event::Start(
                    Tag::Emphasis
                    | Tag::Strong
                    | Tag::Strikethrough
                    | Tag::List(_)
                    | Tag::Item
                    | Tag::BlockQuote(_)
                    | Tag::FootnoteDefinition(_),
                ) => panic!("{event:?} from {md:?}"),
                _ => {}
            }
        }
        text
    }

    /// What a value should read as once rendered: the neutralized value on
    /// one line, ends trimmed as markdown trims them.
    fn shown(s: &str) -> String {
        neutralize(s, false).trim().to_string()
    }

    #[test]
    fn inline_values_render_as_their_own_text_and_nothing_else() {
        for s in HOSTILE {
            let v = inline(s);
            // Running text, after the tool's own words.
            assert_eq!(
                only_text(&format!("Title: {v}\n")).trim(),
                format!("Title: {}", shown(s))
            );
            // A table cell: the value stays in its cell.
            let table = format!("| a | b |\n|---|---|\n| {v} | end |\n");
            let text = only_text(&table);
            assert_eq!(text, format!("ab{}end", shown(s)), "{table}");
            // A heading.
            let heading = format!("# {v}\n");
            let mut levels = 0;
            for e in Parser::new_ext(&heading, options()) {
                if let Event::Start(Tag::Heading { .. }) = e {
                    levels += 1;
                }
            }
            assert_eq!(levels, 1, "{heading}");
            assert_eq!(only_text(&heading), shown(s));
        }
    }

    #[test]
    fn inline_values_hold_nothing_a_renderer_could_autolink() {
        // pulldown-cmark does not autolink bare URLs, but GFM and
        // markdown-it's linkify do: with `:`, `.` and `@` escaped, no URL,
        // domain or e-mail address is left in the source for them to find.
        for s in HOSTILE {
            let v = inline(s);
            assert!(!v.contains("https://") && !v.contains("p://"), "{v}");
            assert!(!v.to_ascii_lowercase().contains("www."), "{v}");
            assert!(!v.contains("evil.example"), "{v}");
            for (i, _) in v.match_indices(['@', '.', ':', '<', '&', '`', '[', '!']) {
                assert_eq!(&v[i - 1..i], "\\", "{v}");
            }
        }
    }

    #[test]
    fn code_spans_show_exactly_the_value() {
        for s in HOSTILE {
            let expected = neutralize(s, false);
            let v = code_span(&neutralize(s, false));
            let mut codes = Vec::new();
            for e in Parser::new_ext(&format!("see {v} here\n"), options()) {
                match e {
                    Event::Code(c) => codes.push(c.to_string()),
                    Event::Text(t) => assert!(t == "see ".into() || t == " here".into(), "{t}"),
                    Event::Start(Tag::Paragraph) | Event::End(_) => {}
                    other => panic!("{other:?} from {v:?}"),
                }
            }
            assert_eq!(codes, std::slice::from_ref(&expected), "{v}");

            let table = format!("| a | b |\n|---|---|\n| {} | end |\n", code_cell(s));
            let mut cells = Vec::new();
            for e in Parser::new_ext(&table, options()) {
                match e {
                    Event::Code(c) => cells.push(c.to_string()),
                    Event::Text(t) => assert!(["a", "b", "end"].contains(&&*t), "{t}: {table}"),
                    Event::Start(Tag::Link { .. } | Tag::Image { .. })
                    | Event::Html(_)
                    | Event::InlineHtml(_) => {
                        panic!("{e:?} from {table}")
                    }
                    _ => {}
                }
            }
            assert_eq!(cells, [expected], "{table}");
        }
    }

    #[test]
    fn a_backtick_name_cannot_close_its_code_span() {
        // The finding: a name with a backtick closed the span around the
        // local path, and what followed became an image.
        let path = "attachments/1-x`![](https://evil.example/p.png)`.pdf";
        let md = format!("| Local file |\n|---|\n| {} |\n", code_cell(path));
        assert!(only_text(&md).contains("![](https://evil.example/p.png)"));
        assert_eq!(code_cell("a`b"), "``a`b``");
        assert_eq!(code_cell("`a|"), "`` `a\\| ``");
    }

    #[test]
    fn inline_cannot_make_headings_links_or_escapes() {
        assert_eq!(
            inline("# Closed\n[x](http://e)"),
            "\\# Closed \\[x\\]\\(http\\://e\\)"
        );
        assert_eq!(inline("a\u{1b}[2Jb"), "a\u{fffd}\\[2Jb");
        assert_eq!(inline("Dana, 10%?"), "Dana, 10%?");
    }

    #[test]
    fn block_fence_outlasts_backticks_in_the_text() {
        let b = block("before\n````\nnot the end\n");
        assert!(b.starts_with("`````text\n"));
        assert!(b.ends_with("\n`````\n"));
        let b = block("plain");
        assert_eq!(b, "```text\nplain\n```\n");
        for s in HOSTILE {
            let b = block(s);
            let mut blocks = 0;
            for e in Parser::new_ext(&b, options()) {
                match e {
                    Event::Start(Tag::CodeBlock(_)) => blocks += 1,
                    Event::Text(_) | Event::End(_) => {}
                    other => panic!("{other:?} from {b:?}"),
                }
            }
            assert_eq!(blocks, 1, "{b}");
        }
    }

    #[test]
    fn server_dates_are_calendar_dates_or_flagged() {
        assert_eq!(server_date("2026-11-27"), "2026-11-27");
        for bad in [
            "2026-02-30",
            "27-11-2026",
            "",
            "2026-11-27](http://e)",
            "2026-1-1",
        ] {
            let shown = server_date(bad);
            assert!(shown.starts_with("not a valid date: `"), "{shown}");
            only_text(&format!("| a |\n|---|\n| {shown} |\n"));
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(size(12), "12 bytes");
        assert_eq!(size(1536), "1.5 KiB (1536 bytes)");
    }
}
