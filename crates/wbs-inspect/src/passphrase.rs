//! Getting a passphrase: from the terminal (never echoed) or from the first
//! line of a file. Passphrases live in `SecretString` from the moment they
//! are read, and every intermediate buffer is zeroized.
//!
//! A new identity's passphrase is all that stands between a copied `.key`
//! file and every report, and whoever copied it can try passphrases offline
//! for as long as they like (age's scrypt makes each try cost about a
//! second of one core, not more). So `keygen` refuses a weak one, saying
//! why ([`weakness`]), and offers a generated one instead ([`generate`]).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Longest passphrase file read (a passphrase is one line).
const MAX_FILE_LEN: u64 = 64 * 1024;

/// The first line of `path`, without its line ending.
pub fn from_file(path: &Path) -> Result<SecretString> {
    let file = File::open(path).map_err(|e| Error::read(path, e))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_LEN)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::read(path, e))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::Passphrase(format!(
            "passphrase file {} is not UTF-8 text",
            path.display()
        ))
    })?;
    let line = text.split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Err(Error::Passphrase(format!(
            "passphrase file {} has an empty first line",
            path.display()
        )));
    }
    Ok(SecretString::from(line))
}

/// Asks once on the terminal; the answer may be empty.
fn ask(question: &str) -> Result<SecretString> {
    // Copied out of a zeroizing buffer: converting the String itself could
    // reallocate and leave a copy behind.
    rpassword::prompt_password(question)
        .map(|s| SecretString::from(Zeroizing::new(s).as_str()))
        .map_err(|e| {
            Error::Passphrase(format!(
                "cannot read a passphrase from the terminal ({e}); use --passphrase-file"
            ))
        })
}

/// Asks once on the terminal.
pub fn prompt(question: &str) -> Result<SecretString> {
    let answer = ask(question)?;
    if answer.expose_secret().is_empty() {
        return Err(Error::Passphrase("the passphrase is empty".into()));
    }
    Ok(answer)
}

/// Weak answers tolerated before `keygen` gives up.
const ATTEMPTS: usize = 3;

/// Asks for a new passphrase on the terminal: a weak one is refused with
/// the reason and asked again; an empty answer has one generated. A typed
/// passphrase is asked twice and both must agree.
pub fn prompt_new() -> Result<SecretString> {
    for _ in 0..ATTEMPTS {
        let first = ask(&format!(
            "New passphrase for the identity file (at least {MIN_CHARS} characters), \
             or press Enter to have a strong one made for you: "
        ))?;
        if first.expose_secret().is_empty() {
            return offer_generated();
        }
        if let Some(why) = weakness(first.expose_secret()) {
            eprintln!(
                "wbs-inspect: that passphrase is weak: {why}. Try another, or press Enter \
                 to have one made."
            );
            continue;
        }
        let second = prompt("Same passphrase again: ")?;
        if first.expose_secret() != second.expose_secret() {
            return Err(Error::Passphrase("the two passphrases differ".into()));
        }
        return Ok(first);
    }
    Err(Error::Passphrase(format!(
        "no strong passphrase after {ATTEMPTS} tries; run keygen again and press Enter at \
         the prompt to have one made"
    )))
}

/// Shows a generated passphrase on the terminal and has it typed back, so
/// that it is certainly written down before the key depends on it.
fn offer_generated() -> Result<SecretString> {
    let generated = generate();
    // The one place wbs-inspect ever shows a secret: the user's own new
    // passphrase, to the user, once, on the terminal itself (never standard
    // output or error, which may be a file or a pipe). It is not stored.
    show_on_terminal(&Zeroizing::new(format!(
        "\nYour new passphrase ({GENERATED_BITS} random bits). Write it down now and keep it \
         with the key's backup; it is shown only this once and stored nowhere:\n\n    {}\n\n\
         Clear the screen and the terminal's scrollback afterwards.\n",
        generated.expose_secret()
    )))?;
    let typed = prompt("Type it to confirm you have written it down: ")?;
    let typed = Zeroizing::new(typed.expose_secret().trim().to_ascii_lowercase());
    if typed.as_str() != generated.expose_secret() {
        return Err(Error::Passphrase(
            "what was typed is not the generated passphrase; nothing was written".into(),
        ));
    }
    Ok(generated)
}

/// Writes to the controlling terminal, where the passphrase was asked.
fn show_on_terminal(text: &str) -> Result<()> {
    use std::io::Write;
    let unavailable = |e: std::io::Error| {
        Error::Passphrase(format!(
            "cannot show a generated passphrase on the terminal ({e}); use --passphrase-file"
        ))
    };
    let mut tty = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .map_err(unavailable)?;
    tty.write_all(text.as_bytes())
        .and_then(|()| tty.flush())
        .map_err(unavailable)
}

/// Shortest passphrase `keygen` accepts, in characters.
pub const MIN_CHARS: usize = 16;
/// Shortest passphrase of one kind of character only (all lower-case
/// letters, all digits, …).
const MIN_CHARS_ONE_KIND: usize = 24;
/// Fewest characters that must lie outside the common patterns.
const MIN_OUTSIDE_PATTERNS: usize = 12;

/// Words that passwords are most often built from, in English and
/// Indonesian, and this system's own names: matched after undoing the usual
/// digit-for-letter swaps (`p4ssw0rd`).
const COMMON_WORDS: &[&str] = &[
    "password",
    "passwort",
    "katasandi",
    "sandi",
    "rahasia",
    "secret",
    "admin",
    "login",
    "welcome",
    "letmein",
    "iloveyou",
    "qwerty",
    "dragon",
    "monkey",
    "master",
    "changeme",
    "default",
    "indonesia",
    "jakarta",
    "merdeka",
    "bismillah",
    "sayang",
    "cinta",
    "inspektorat",
    "inspectorate",
    "whistle",
    "laporan",
    "wbs",
];

/// Keyboard rows, for runs such as `asdf` or `poiu`.
const KEYBOARD_ROWS: &[&str] = &["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"];

/// Why `passphrase` is too weak for a new identity, or `None` if it is not.
///
/// Three rules, each easy to check by hand: at least [`MIN_CHARS`]
/// characters; at least [`MIN_CHARS_ONE_KIND`] if they are all of one kind
/// (lower-case letters, upper-case letters, digits, or spaces and symbols);
/// and at least [`MIN_OUTSIDE_PATTERNS`] characters outside the patterns
/// that guessing programs try first: a character repeated, a sequence
/// (`abc`, `987`), a keyboard row (`qwer`), a part repeated (`abcabc`) and
/// very common words. The reason never quotes the passphrase.
pub fn weakness(passphrase: &str) -> Option<String> {
    let chars: Vec<char> = passphrase.chars().collect();
    if chars.len() < MIN_CHARS {
        return Some(format!(
            "it has {} characters, and at least {MIN_CHARS} are needed",
            chars.len()
        ));
    }
    let kinds: std::collections::BTreeSet<&str> = chars.iter().map(|&c| kind(c)).collect();
    if kinds.len() == 1 && chars.len() < MIN_CHARS_ONE_KIND {
        return Some(format!(
            "it is made only of {}; use at least {MIN_CHARS_ONE_KIND} characters, or mix \
             letters, digits and spaces or symbols",
            kinds.first().expect("not empty")
        ));
    }
    let outside = chars.len() - in_common_patterns(&chars);
    if outside < MIN_OUTSIDE_PATTERNS {
        return Some(format!(
            "most of it follows patterns that guessing programs try first (a repeated \
             character, a sequence such as abc or 123, a keyboard row, a repeated part or a \
             very common word): only {outside} characters are outside them, and at least \
             {MIN_OUTSIDE_PATTERNS} are needed"
        ));
    }
    None
}

fn kind(c: char) -> &'static str {
    if c.is_lowercase() {
        "lower-case letters"
    } else if c.is_uppercase() {
        "upper-case letters"
    } else if c.is_numeric() {
        "digits"
    } else if c.is_alphabetic() {
        "letters"
    } else {
        "spaces and symbols"
    }
}

/// How many of `chars` belong to one of the common patterns.
fn in_common_patterns(chars: &[char]) -> usize {
    let lower: Vec<char> = chars.iter().flat_map(|c| c.to_lowercase()).collect();
    if lower.len() != chars.len() {
        // A character that lower-cases to several: judge the text as given.
        return in_common_patterns_of(chars);
    }
    in_common_patterns_of(&lower)
}

fn in_common_patterns_of(s: &[char]) -> usize {
    let n = s.len();
    let mut covered = vec![false; n];
    let mut mark = |from: usize, to: usize| covered[from..to].iter_mut().for_each(|c| *c = true);

    // Runs of one character, and sequences going up or down by one.
    for step in [0i64, 1, -1] {
        let mut start = 0;
        for i in 1..=n {
            let continues = i < n
                && s[i].is_ascii_alphanumeric()
                && s[i - 1].is_ascii_alphanumeric()
                && s[i] as i64 - s[i - 1] as i64 == step;
            if !continues {
                if i - start >= 3 {
                    mark(start, i);
                }
                start = i;
            }
        }
    }
    // Keyboard rows, either way, four keys or more.
    for row in KEYBOARD_ROWS {
        let forward: Vec<char> = row.chars().collect();
        let backward: Vec<char> = row.chars().rev().collect();
        for r in [forward, backward] {
            for len in (4..=r.len()).rev() {
                for w in r.windows(len) {
                    for (i, window) in s.windows(len).enumerate() {
                        if window == w {
                            mark(i, i + len);
                        }
                    }
                }
            }
        }
    }
    // A part of three or more that repeats what comes just before it (parts
    // of up to 64 characters: a passphrase file may be long).
    for i in 0..n {
        for len in (3..=i.min(n - i).min(64)).rev() {
            if s[i..i + len] == s[i - len..i] {
                mark(i, i + len);
                break;
            }
        }
    }
    // Common words, after undoing the usual swaps.
    let unleet: Vec<char> = s
        .iter()
        .map(|&c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            c => c,
        })
        .collect();
    for word in COMMON_WORDS {
        let w: Vec<char> = word.chars().collect();
        for (i, window) in unleet.windows(w.len()).enumerate() {
            if window == w.as_slice() {
                mark(i, i + w.len());
            }
        }
    }
    covered.iter().filter(|&&c| c).count()
}

/// Random bits in a generated passphrase.
pub const GENERATED_BITS: usize = GROUPS * GROUP_LEN * 5;
const GROUPS: usize = 6;
const GROUP_LEN: usize = 4;
/// Lower-case Crockford base32: no `i`, `l`, `o` or `u` to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new passphrase of [`GENERATED_BITS`] (120) random bits: six groups of
/// four base32 characters, `k7m2-qx9p-…`, easy to write down and type.
pub fn generate() -> SecretString {
    let mut bytes = Zeroizing::new([0u8; GROUPS * GROUP_LEN]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
    let mut out = Zeroizing::new(String::with_capacity(GROUPS * (GROUP_LEN + 1)));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % GROUP_LEN == 0 {
            out.push('-');
        }
        // 32 divides 256: the low five bits are uniform.
        out.push(ALPHABET[(b & 0x1f) as usize] as char);
    }
    SecretString::from(out.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passphrases_are_refused_with_the_reason() {
        for (weak, reason) in [
            ("", "0 characters"),
            ("rahasia negara", "14 characters"),
            ("Tr0ub4dor&3", "11 characters"),
            ("abcdefghijklmnop", "only of lower-case letters"),
            ("3141592653589793238", "only of digits"),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "patterns"),
            ("Password123456789!", "patterns"),
            ("qwertyuiop1234567890", "patterns"),
            ("p4ssw0rd p4ssw0rd p4ssw0rd", "patterns"),
            ("abcabcabcabc ABCABCABC", "patterns"),
            ("aaaaaaaa bbbbbbbb 12345678", "patterns"),
            ("Inspektorat2026!!!!!!", "patterns"),
            (&"abcd".repeat(16 * 1024), "patterns"),
        ] {
            let why = weakness(weak).unwrap_or_else(|| panic!("{weak:?} was accepted"));
            assert!(why.contains(reason), "{weak:?}: {why}");
            assert!(
                weak.is_empty() || !why.contains(weak),
                "the reason quotes it"
            );
        }
    }

    #[test]
    fn strong_passphrases_are_accepted() {
        for ok in [
            "kata sandi panjang sekali",
            "kuda baterai staples benar",
            "correct horse battery staple",
            "Gd7#kP2m!xQ9vR4w",
            "ngmpbhzvtfcwqxrskdjyhwtv",
        ] {
            assert_eq!(weakness(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn generated_passphrases_are_strong_and_well_formed() {
        assert_eq!(GENERATED_BITS, 120);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let p = generate();
            let p = p.expose_secret();
            assert_eq!(p.len(), 29, "{p}");
            let groups: Vec<&str> = p.split('-').collect();
            assert_eq!(groups.len(), 6);
            for g in groups {
                assert_eq!(g.len(), 4);
                assert!(g.bytes().all(|b| ALPHABET.contains(&b)), "{p}");
            }
            assert_eq!(weakness(p), None, "{p}");
            assert!(seen.insert(p.to_string()));
        }
    }
}
