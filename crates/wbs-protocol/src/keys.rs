//! The age recipients and identities WBS uses, classic and post-quantum,
//! and the one rule about them: a deployment is all-classic (`age1…`,
//! X25519) or all-post-quantum (`age1pq1…`, mlkem768x25519), never a mix
//! (PROTOCOL.md §3.2). The age specification says not to put both kinds in
//! one file, since the classic stanzas would give a quantum attacker the
//! file key the post-quantum ones protect.
//!
//! [`read_pub_files`] is the one reader of the inspectorate's `.pub` files
//! for the whole workspace (server, `wbs-report`, `wbs-inspect`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::SecretString;

use crate::pq;

/// The two kinds of recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientKind {
    /// X25519: `age1…` recipients, `X25519` stanzas.
    Classic,
    /// mlkem768x25519 (X-Wing): `age1pq1…` recipients, `mlkem768x25519` stanzas.
    PostQuantum,
}

impl RecipientKind {
    /// The kind of a recipient string, by its prefix (`age1pq1…` or not).
    pub fn of_str(recipient: &str) -> Self {
        if pq::is_pq_recipient(recipient) {
            RecipientKind::PostQuantum
        } else {
            RecipientKind::Classic
        }
    }

    /// The age stanza tag of this kind.
    pub fn stanza_tag(self) -> &'static str {
        match self {
            RecipientKind::Classic => "X25519",
            RecipientKind::PostQuantum => pq::STANZA_TAG,
        }
    }

    /// How people are told about it.
    pub fn describe(self) -> &'static str {
        match self {
            RecipientKind::Classic => "classic (age1…)",
            RecipientKind::PostQuantum => "post-quantum (age1pq1…)",
        }
    }
}

/// An age recipient of either kind.
#[derive(Clone, PartialEq)]
pub enum Recipient {
    /// `age1…`
    X25519(age::x25519::Recipient),
    /// `age1pq1…` (boxed: an ML-KEM key is some kilobytes).
    PostQuantum(Box<pq::Recipient>),
}

/// An age identity of either kind. Secret: no `Debug`.
pub enum Identity {
    /// `AGE-SECRET-KEY-1…`
    X25519(age::x25519::Identity),
    /// `AGE-SECRET-KEY-PQ-1…` (boxed: the expanded keys are some kilobytes).
    PostQuantum(Box<pq::Identity>),
}

impl Recipient {
    /// Which kind it is.
    pub fn kind(&self) -> RecipientKind {
        match self {
            Recipient::X25519(_) => RecipientKind::Classic,
            Recipient::PostQuantum(_) => RecipientKind::PostQuantum,
        }
    }
}

/// Parses an `age1…` or `age1pq1…` recipient. The message never repeats
/// the input (it might be an identity pasted by mistake).
pub fn parse_recipient(s: &str) -> Result<Recipient, String> {
    let s = s.trim();
    if pq::is_pq_recipient(s) {
        s.parse::<pq::Recipient>()
            .map(|r| Recipient::PostQuantum(Box::new(r)))
            .map_err(|e| format!("not an age post-quantum recipient: {e}"))
    } else {
        crate::envelope::parse_recipient(s).map(Recipient::X25519)
    }
}

impl FromStr for Recipient {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_recipient(s)
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::X25519(r) => fmt::Display::fmt(r, f),
            Recipient::PostQuantum(r) => fmt::Display::fmt(r, f),
        }
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &age_core::format::FileKey,
    ) -> Result<
        (
            Vec<age_core::format::Stanza>,
            std::collections::HashSet<String>,
        ),
        age::EncryptError,
    > {
        match self {
            Recipient::X25519(r) => r.wrap_file_key(file_key),
            Recipient::PostQuantum(r) => r.as_ref().wrap_file_key(file_key),
        }
    }
}

impl From<age::x25519::Identity> for Identity {
    fn from(i: age::x25519::Identity) -> Self {
        Identity::X25519(i)
    }
}

impl From<pq::Identity> for Identity {
    fn from(i: pq::Identity) -> Self {
        Identity::PostQuantum(Box::new(i))
    }
}

impl Identity {
    /// A fresh identity of `kind`.
    pub fn generate(kind: RecipientKind) -> Self {
        match kind {
            RecipientKind::Classic => age::x25519::Identity::generate().into(),
            RecipientKind::PostQuantum => pq::Identity::generate().into(),
        }
    }

    /// Which kind it is.
    pub fn kind(&self) -> RecipientKind {
        match self {
            Identity::X25519(_) => RecipientKind::Classic,
            Identity::PostQuantum(_) => RecipientKind::PostQuantum,
        }
    }

    /// The matching recipient.
    pub fn to_public(&self) -> Recipient {
        match self {
            Identity::X25519(i) => Recipient::X25519(i.to_public()),
            Identity::PostQuantum(i) => Recipient::PostQuantum(Box::new(i.to_public())),
        }
    }

    /// The identity string (`AGE-SECRET-KEY-1…` or `AGE-SECRET-KEY-PQ-1…`).
    pub fn to_string(&self) -> SecretString {
        match self {
            Identity::X25519(i) => i.to_string(),
            Identity::PostQuantum(i) => i.to_string(),
        }
    }
}

impl FromStr for Identity {
    type Err = &'static str;
    /// Parses either kind; the error never repeats the input.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        // `get`, not slicing: the input may split a character at byte 19.
        if s.get(..19)
            .is_some_and(|p| p.eq_ignore_ascii_case("AGE-SECRET-KEY-PQ-1"))
        {
            s.parse::<pq::Identity>()
                .map(|i| Identity::PostQuantum(Box::new(i)))
                .map_err(|_| "not a valid post-quantum age identity (AGE-SECRET-KEY-PQ-1…)")
        } else {
            s.parse::<age::x25519::Identity>()
                .map(Identity::X25519)
                .map_err(|_| "not a valid age identity (AGE-SECRET-KEY-1…)")
        }
    }
}

impl age::Identity for Identity {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        match self {
            Identity::X25519(i) => i.unwrap_stanza(stanza),
            Identity::PostQuantum(i) => i.as_ref().unwrap_stanza(stanza),
        }
    }
}

/// The message of the no-mixing rule, naming what was found.
pub const MIXED_RULE: &str = "a deployment's recipients are all classic (age1…) or all \
     post-quantum (age1pq1…), never both: the age specification forbids mixing them in one \
     file, since the classic stanzas would let a quantum attacker read what the post-quantum \
     ones protect";

/// The kind shared by every recipient, or an error naming the rule when
/// they are mixed. `None` for an empty list.
pub fn common_kind<'a, I>(recipients: I) -> Result<Option<RecipientKind>, String>
where
    I: IntoIterator<Item = &'a Recipient>,
{
    let mut kind = None;
    for r in recipients {
        match kind {
            None => kind = Some(r.kind()),
            Some(k) if k != r.kind() => return Err(format!("mixed recipients: {MIXED_RULE}")),
            Some(_) => {}
        }
    }
    Ok(kind)
}

/// Parses the text of a `.pub` file: one recipient (`age1…` or `age1pq1…`)
/// per line; blank lines and lines starting with `#` are skipped. An empty
/// result is not an error here (callers decide what a file without keys
/// means).
pub fn parse_pub_text(text: &str) -> Result<Vec<Recipient>, String> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| parse_recipient(line).map_err(|e| format!("line {n}: {e}")))
        .collect()
}

/// One `.pub` file as read by [`read_pub_files`].
#[derive(Debug)]
pub struct PubFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The recipients in it, in order.
    pub recipients: Vec<Recipient>,
    /// Marked as the demonstration key (a `demo-` file name or a
    /// `DEMO ONLY` line).
    pub demo: bool,
}

/// The inspectorate's recipients, as read from `.pub` files.
#[derive(Debug)]
pub struct PubFiles {
    /// Every file read, sorted by path.
    pub files: Vec<PubFile>,
    /// Their recipients without repeats, in file order; all of one kind.
    pub recipients: Vec<Recipient>,
    /// The kind they share.
    pub kind: RecipientKind,
}

impl PubFiles {
    /// Whether the deployment is post-quantum.
    pub fn post_quantum(&self) -> bool {
        self.kind == RecipientKind::PostQuantum
    }

    /// Whether the demonstration key is among them.
    pub fn demo(&self) -> bool {
        self.files.iter().any(|f| f.demo)
    }
}

/// Reads the inspectorate's recipients from `path`: a `.pub` file, or every
/// `*.pub` file in a folder (sorted by name). This is the only place in
/// WBS that reads `.pub` files: it does file I/O on the path its caller
/// names and nothing else.
///
/// Refused, with a message naming the file: an entry of the folder that
/// cannot be read, a line that is not a recipient, no recipient at all, and
/// a mix of classic and post-quantum recipients ([`MIXED_RULE`]).
pub fn read_pub_files(path: &Path) -> Result<PubFiles, String> {
    let mut paths = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read the folder {}: {e}", path.display()))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| format!("cannot read an entry of {}: {e}", path.display()))?;
            let p = entry.path();
            if p.extension().is_some_and(|x| x == "pub") {
                paths.push(p);
            }
        }
        paths.sort();
    } else {
        paths.push(path.to_path_buf());
    }
    let mut files = Vec::new();
    let mut recipients: Vec<Recipient> = Vec::new();
    let mut first: Option<(RecipientKind, PathBuf)> = None;
    for p in paths {
        let text =
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let found = parse_pub_text(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        for r in &found {
            match &first {
                None => first = Some((r.kind(), p.clone())),
                Some((kind, where_)) if *kind != r.kind() => {
                    return Err(format!(
                        "{} holds a {} recipient but {} a {} one: {MIXED_RULE}",
                        p.display(),
                        r.kind().describe(),
                        where_.display(),
                        kind.describe(),
                    ))
                }
                Some(_) => {}
            }
            if !recipients.contains(r) {
                recipients.push(r.clone());
            }
        }
        let demo = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("demo-"))
            || text.contains("DEMO ONLY");
        files.push(PubFile {
            path: p,
            recipients: found,
            demo,
        });
    }
    let Some((kind, _)) = first else {
        return Err(format!(
            "no age recipient found in {} (put the inspectorate's .pub files there)",
            path.display()
        ));
    };
    Ok(PubFiles {
        files,
        recipients,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pub_text_skips_comments_and_blank_lines_and_names_a_bad_line() {
        let a = age::x25519::Identity::generate().to_public();
        let b = age::x25519::Identity::generate().to_public();
        let text = format!("# Inspektorat, kunci 1\n\n  {a}  \n# kunci 2\r\n{b}\n");
        let parsed = parse_pub_text(&text).unwrap();
        assert_eq!(
            parsed.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            [a.to_string(), b.to_string()]
        );
        assert!(parse_pub_text("# nothing here\n\n").unwrap().is_empty());
        let err = parse_pub_text(&format!("{a}\nage1notakey\n")).unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        use age::secrecy::ExposeSecret;
        let identity = age::x25519::Identity::generate();
        let secret = identity.to_string();
        let err = parse_pub_text(secret.expose_secret()).unwrap_err();
        assert!(
            !err.contains(secret.expose_secret()),
            "a pasted identity is not echoed"
        );
    }

    #[test]
    fn either_kind_parses_and_prints_back() {
        let classic = age::x25519::Identity::generate().to_public().to_string();
        let post_quantum = pq::Identity::generate().to_public().to_string();
        for (s, kind) in [
            (&classic, RecipientKind::Classic),
            (&post_quantum, RecipientKind::PostQuantum),
        ] {
            let r = parse_recipient(s).unwrap();
            assert_eq!(r.kind(), kind);
            assert_eq!(RecipientKind::of_str(s), kind);
            assert_eq!(&r.to_string(), s);
        }
        assert!(parse_recipient("age1pq1nope").is_err());
    }

    #[test]
    fn either_identity_parses_without_echoing() {
        use age::secrecy::ExposeSecret;
        let pq_id = pq::Identity::generate();
        let s = pq_id.to_string();
        let parsed: Identity = s.expose_secret().parse().unwrap();
        assert_eq!(parsed.kind(), RecipientKind::PostQuantum);
        assert_eq!(
            parsed.to_public().to_string(),
            pq_id.to_public().to_string()
        );
        let classic = age::x25519::Identity::generate();
        let parsed: Identity = classic.to_string().expose_secret().parse().unwrap();
        assert_eq!(parsed.kind(), RecipientKind::Classic);
        let mut typo = s.expose_secret().to_owned();
        typo.truncate(typo.len() - 3);
        let err = typo.parse::<Identity>().err().unwrap();
        assert!(!err.contains(&typo[20..]));
        // Text from a damaged file, a character across byte 19: an error,
        // never a panic.
        for text in ["AGE-SECRET-KEY-PQ-é1", "AGE-SECRET-KEY-PQé", "ééééééééééé"] {
            assert!(text.parse::<Identity>().is_err(), "{text}");
        }
    }

    #[test]
    fn a_mixed_set_is_refused_naming_the_rule() {
        let classic = Recipient::X25519(age::x25519::Identity::generate().to_public());
        let post_quantum = Recipient::PostQuantum(Box::new(pq::Identity::generate().to_public()));
        assert_eq!(common_kind([].iter()), Ok(None));
        assert_eq!(
            common_kind([post_quantum.clone()].iter()),
            Ok(Some(RecipientKind::PostQuantum))
        );
        let err = common_kind([post_quantum, classic].iter()).unwrap_err();
        assert!(err.contains("never both"), "{err}");
    }

    #[test]
    fn pub_folders_of_either_kind_and_the_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let pq_a = pq::Identity::generate().to_public().to_string();
        let pq_b = pq::Identity::generate().to_public().to_string();
        std::fs::write(dir.path().join("a.pub"), format!("# key a\n{pq_a}\n")).unwrap();
        std::fs::write(dir.path().join("b.pub"), format!("{pq_b}\n{pq_a}\n")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a key").unwrap();
        let read = read_pub_files(dir.path()).unwrap();
        assert!(read.post_quantum());
        assert!(!read.demo());
        assert_eq!(read.files.len(), 2);
        assert_eq!(
            read.recipients
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>(),
            [pq_a.clone(), pq_b]
        );

        // A classic key beside them: refused, naming both files and the rule.
        let classic = age::x25519::Identity::generate().to_public().to_string();
        std::fs::write(dir.path().join("c.pub"), format!("{classic}\n")).unwrap();
        let err = read_pub_files(dir.path()).unwrap_err();
        assert!(err.contains("c.pub"), "{err}");
        assert!(err.contains("a.pub"), "{err}");
        assert!(err.contains("never both"), "{err}");
        std::fs::remove_file(dir.path().join("c.pub")).unwrap();

        // An entry that cannot be read is an error, not skipped.
        std::fs::create_dir(dir.path().join("d.pub")).unwrap();
        let err = read_pub_files(dir.path()).unwrap_err();
        assert!(err.contains("d.pub"), "{err}");
        std::fs::remove_dir(dir.path().join("d.pub")).unwrap();

        // A bad line names its file and line.
        std::fs::write(dir.path().join("e.pub"), "# e\nage1pq1broken\n").unwrap();
        let err = read_pub_files(dir.path()).unwrap_err();
        assert!(err.contains("e.pub: line 2"), "{err}");
        std::fs::remove_file(dir.path().join("e.pub")).unwrap();

        let empty = tempfile::tempdir().unwrap();
        assert!(read_pub_files(empty.path())
            .unwrap_err()
            .contains("no age recipient"));
        assert!(read_pub_files(&empty.path().join("missing.pub")).is_err());
    }
}
