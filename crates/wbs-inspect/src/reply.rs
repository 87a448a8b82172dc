//! `wbs-inspect reply`: encrypts a reply to the reporter of a case (and
//! optionally a status change) into a reply bundle for `wbs-desk push`.
//!
//! The reply is encrypted to the reporter's recipient from inside their own
//! report and to the inspectorate recipients of the identity that opened the
//! case, both read from `reply-to.json`. The keys the server listed are used
//! only with `--trust-server-recipients`; `--recipients` replaces ours with
//! a trusted local list (see [`inspectorate_recipients`]).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use rand::RngCore;
use wbs_protocol::bundle::{is_valid_id, CaseManifest, Limits, ReplyBundle, ReplyItem};
use wbs_protocol::keys::{parse_recipient, Recipient, RecipientKind};
use wbs_protocol::message::{Document, Reply, Report, MAX_DOCUMENT_LEN, REPLY_FORMAT};
use wbs_protocol::Status;
use zeroize::Zeroizing;

use crate::casedir::{sent_reply_stem, CaseDir, ReplyTo, CASE_JSON, REPLY_TO_JSON, REPORT_JSON};
use crate::cli::ReplyArgs;
use crate::error::{Error, Result};
use crate::fsutil::{read_if_exists, Placed, TempFile};
use crate::render::{block, code_cell};

/// Longest reply body: once wrapped in JSON and padded it must stay well
/// under the size the reporter's client accepts.
const MAX_BODY_LEN: u64 = 1024 * 1024;
/// Alphabet of item ids: lower-case Crockford base32, all valid in ids.
const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Runs `reply` and returns the line to print.
pub fn run(args: &ReplyArgs) -> Result<String> {
    let body = read_message(&args.message)?;
    let written = write_reply(&ReplyRequest {
        case: &args.case,
        body: &body,
        status: args.status,
        out: &args.out,
        recipients: args.recipients.as_deref(),
        trust_server_recipients: args.trust_server_recipients,
    })?;
    if !written.authenticated {
        eprintln!(
            "wbs-inspect: warning: case {}: the report carries no thread key (it was sent by an \
             older client), so this reply cannot be authenticated; the reporter's current \
             clients will withhold its text",
            written.case_id
        );
    }
    let status = match args.status {
        Some(s) => format!(" and status {s}"),
        None => String::new(),
    };
    let items = written.items;
    Ok(format!(
        "added reply {}{status} for case {} to {} ({} in the bundle)",
        written.item_id,
        written.case_id,
        args.out.display(),
        if items == 1 {
            "1 item".to_string()
        } else {
            format!("{items} items")
        }
    ))
}

/// One reply to write: what the command line's flags say, or what the
/// desktop workbench's answer form holds.
#[derive(Debug, Clone, Copy)]
pub struct ReplyRequest<'a> {
    /// The case folder written by `open`.
    pub case: &'a Path,
    /// The reply text.
    pub body: &'a str,
    /// The new status, if it changes.
    pub status: Option<Status>,
    /// The reply bundle to create, or to add to if it exists.
    pub out: &'a Path,
    /// A trusted local list of inspectorate `.pub` files (`--recipients`).
    pub recipients: Option<&'a Path>,
    /// Also encrypt to the keys the server listed (`--trust-server-recipients`).
    pub trust_server_recipients: bool,
}

/// A reply added to a bundle.
#[derive(Debug, Clone)]
pub struct Written {
    /// The new item's id.
    pub item_id: String,
    /// The case answered.
    pub case_id: String,
    /// Items in the bundle now.
    pub items: usize,
    /// Whether the reply carries the thread authenticator (PROTOCOL.md
    /// §4.4); `false` for a report from a client older than authenticated
    /// threads, whose current clients will withhold the text.
    pub authenticated: bool,
    /// Whom it is encrypted to: the reporter first, then the inspectorate.
    pub recipients: Vec<String>,
}

/// Whom a reply to the case in `case` would be encrypted to, the reporter
/// first, then the inspectorate: what [`write_reply`] will use, for showing
/// before it is written.
pub fn reply_recipients(
    case: &Path,
    trusted: Option<&Path>,
    trust_server: bool,
) -> Result<Vec<String>> {
    let case = CaseDir::existing(case)?;
    let (reporter, inspectorate) = load_recipients(&case, trusted, trust_server)?;
    let mut out = vec![reporter.to_string()];
    out.extend(inspectorate.iter().map(|r| r.to_string()));
    Ok(out)
}

/// Encrypts one reply into a reply bundle (created, or extended if it is
/// one this tool wrote) and records it in the case's `thread/`.
pub fn write_reply(req: &ReplyRequest<'_>) -> Result<Written> {
    let args = req;
    let case = CaseDir::existing(req.case)?;
    let (reporter, inspectorate) =
        load_recipients(&case, req.recipients, req.trust_server_recipients)?;
    if req.body.len() as u64 > MAX_BODY_LEN {
        return Err(Error::Usage(format!(
            "the message is longer than {MAX_BODY_LEN} bytes"
        )));
    }
    if req.body.trim().is_empty() {
        return Err(Error::Usage("the message is empty".into()));
    }
    let body = Zeroizing::new(req.body.to_string());

    let mut bundle = load_bundle(args.out)?;
    let item_id = loop {
        let id = new_item_id();
        if !bundle.manifest.items.iter().any(|i| i.id == id) {
            break id;
        }
    };

    let mut recipients = vec![reporter];
    recipients.extend(inspectorate.iter().cloned());
    let (reply, authenticated) = authenticated_reply(&case, body.to_string(), args.status)?;
    // What the reporter's client decrypts is the padded JSON, which escaping
    // can make much longer than the text: it must fit what they accept.
    let json_len = serde_json::to_vec(&reply).map_or(u64::MAX, |j| j.len() as u64);
    if wbs_protocol::padding::padme(json_len) > MAX_DOCUMENT_LEN {
        return Err(Error::Usage(
            "the message is too long for the reporter's client to accept".into(),
        ));
    }
    let sealed = reply
        .seal(&recipients)
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    drop(reply);
    bundle.push(
        ReplyItem {
            id: item_id.clone(),
            case_id: case.id().to_string(),
            status: args.status,
            reply: None,
        },
        Some(sealed),
    );

    // Everything is prepared before anything is put in place.
    let mut tmp = TempFile::new_for(args.out)?;
    bundle
        .write(&mut tmp)
        .map_err(|e| Error::write(args.out, io::Error::other(e.to_string())))?;

    let today = wbs_protocol::date::today_utc();
    let record = sent_record(
        case.id(),
        &item_id,
        &today,
        args.status,
        &body,
        &recipients.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        args.out,
    );
    let thread = case.thread_dir();
    case.ensure(&thread)?;
    let record_path = case.thread_file(&sent_reply_stem(&today, &item_id), ".md");
    let mut record_tmp = TempFile::new_for(&record_path)?;
    record_tmp
        .write_all(record.as_bytes())
        .map_err(|e| Error::write(record_tmp.path(), e))?;

    if bundle.manifest.items.len() == 1 {
        match tmp.persist_new() {
            Ok(Placed::Written) => {}
            Ok(Placed::AlreadyThere) | Err(Error::Exists(_)) => {
                return Err(Error::Usage(format!(
                    "{} appeared while the reply was written; try again",
                    args.out.display()
                )))
            }
            Err(e) => return Err(e),
        }
    } else {
        // The bundle is the tool's own file and was just read and checked.
        tmp.replace()?;
    }
    record_tmp.persist_new()?;

    Ok(Written {
        item_id,
        case_id: case.id().to_string(),
        items: bundle.manifest.items.len(),
        authenticated,
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
    })
}

/// The reply document, authenticated with the thread key from inside the
/// case's decrypted report (PROTOCOL.md §4.4), so the reporter's client can
/// tell it from a reply anybody else encrypted to their reply recipient. A
/// report from a client older than authenticated threads carries no key:
/// the reply is then written without an authenticator, and the reporter's
/// current clients will withhold its text; say so.
fn authenticated_reply(
    case: &CaseDir,
    body: String,
    status: Option<Status>,
) -> Result<(Reply, bool)> {
    let id = case.id();
    let bytes =
        read_if_exists(&case.file(REPORT_JSON), 2 * MAX_DOCUMENT_LEN)?.ok_or_else(|| {
            Error::Usage(format!(
                "{} is missing: open the case's report with `wbs-inspect open` first",
                case.file(REPORT_JSON).display()
            ))
        })?;
    let report = Report::parse(&bytes)
        .map_err(|_| Error::case(id, format!("{REPORT_JSON} is not a report")))?;
    let status = status.map(|s| s.to_string());
    match report.thread_key() {
        Some(key) => Ok((
            Reply::authenticated(&key, &report.reply_recipient, body, status),
            true,
        )),
        None => Ok((
            Reply {
                format: REPLY_FORMAT.into(),
                id: Some(wbs_protocol::thread::new_message_id()),
                body,
                status,
                auth: None,
            },
            false,
        )),
    }
}

/// Reads trusted inspectorate recipients with the workspace's one `.pub`
/// reader ([`wbs_protocol::keys::read_pub_files`]).
fn read_pub_files(path: &std::path::Path) -> Result<Vec<String>> {
    let read = wbs_protocol::keys::read_pub_files(path).map_err(Error::Usage)?;
    Ok(read.recipients.iter().map(|r| r.to_string()).collect())
}

/// Who the inspectorate side of a reply is.
///
/// By default only the tool's own keys (those of the identity that opened
/// the case, from `reply-to.json`): the list in `export.json` came from the
/// server, and a compromised server would list its own key there to read
/// every reply. If the server listed keys that are not ours, the reply is
/// refused, naming them, unless the investigator says whom to trust:
/// `--recipients` (a trusted local copy of the inspectorate's `.pub` files,
/// which must hold our own keys too) or `--trust-server-recipients` (ours
/// plus the server's, after checking them). The server accepts a reply
/// encrypted to the reporter and any non-empty subset of its keys.
fn inspectorate_recipients(
    reply_to: &ReplyTo,
    trusted: Option<&std::path::Path>,
    trust_server: bool,
) -> Result<Vec<String>> {
    let own = canonical_keys(&reply_to.inspectorate, "reply-to.json")?;
    if let Some(path) = trusted {
        let list = canonical_keys(&read_pub_files(path)?, &path.display().to_string())?;
        let missing: Vec<&str> = own
            .iter()
            .filter(|k| !list.contains(k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::Usage(format!(
                "the trusted recipients in {} do not include this identity's own key {}: \
                 the inspectorate could not read its own reply; add its .pub file",
                path.display(),
                missing.join(", ")
            )));
        }
        return Ok(list);
    }
    let (foreign, invalid): (Vec<&String>, Vec<&String>) = reply_to
        .listed_by_server
        .iter()
        .filter(|r| !own.contains(&canonical(r).unwrap_or_default()))
        .partition(|r| canonical(r).is_some());
    if !invalid.is_empty() {
        // Never encrypted to; shown escaped (`{:?}`), as anything from the
        // server is.
        return Err(Error::Usage(format!(
            "the server listed {} inspectorate key(s) that are not age recipients: {}; \
             refusing to trust that list",
            invalid.len(),
            invalid
                .iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if foreign.is_empty() {
        return Ok(own);
    }
    let named = foreign
        .iter()
        .map(|r| canonical(r).unwrap_or_default())
        .collect::<Vec<_>>();
    if !trust_server {
        return Err(Error::Usage(format!(
            "the server listed {} inspectorate key(s) that are not this identity's own: {}. \
             A reply is encrypted only to the reporter and your own key unless you say \
             otherwise: pass --recipients DIR with your own trusted copy of the \
             inspectorate's .pub files, or --trust-server-recipients once you have checked \
             these keys",
            named.len(),
            named.join(", ")
        )));
    }
    eprintln!(
        "wbs-inspect: note: --trust-server-recipients: also encrypting to {} key(s) the server \
         listed that are not this identity's own: {}",
        named.len(),
        named.join(", ")
    );
    let mut all = own;
    for k in named {
        if !all.contains(&k) {
            all.push(k);
        }
    }
    Ok(all)
}

/// An age recipient in its one canonical spelling, or `None`.
fn canonical(r: &str) -> Option<String> {
    parse_recipient(r).ok().map(|r| r.to_string())
}

/// Canonical, without duplicates; any that is not a recipient is an error.
fn canonical_keys(list: &[String], source: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for r in list {
        let k = canonical(r)
            .ok_or_else(|| Error::Usage(format!("{source}: {r:?} is not an age recipient")))?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// Reads and checks `case.json` and `reply-to.json` of the case folder.
fn load_recipients(
    case: &CaseDir,
    trusted: Option<&std::path::Path>,
    trust_server: bool,
) -> Result<(Recipient, Vec<Recipient>)> {
    let id = case.id();
    let read_json = |name: &str| -> Result<Vec<u8>> {
        read_if_exists(&case.file(name), 16 << 20)?.ok_or_else(|| {
            Error::Usage(format!(
                "{} is missing: open the case's report with `wbs-inspect open` first",
                case.file(name).display()
            ))
        })
    };
    let manifest: CaseManifest = serde_json::from_slice(&read_json(CASE_JSON)?)
        .map_err(|_| Error::case(id, format!("{CASE_JSON} is not a case manifest")))?;
    let reply_to: ReplyTo = serde_json::from_slice(&read_json(REPLY_TO_JSON)?)
        .map_err(|_| Error::case(id, format!("{REPLY_TO_JSON} is not valid")))?;
    if manifest.id != id || reply_to.case_id != id || !is_valid_id(&manifest.id) {
        return Err(Error::case(
            id,
            format!("the folder name, {CASE_JSON} and {REPLY_TO_JSON} do not name the same case"),
        ));
    }
    let reporter = reply_to.reporter.as_deref().ok_or_else(|| {
        Error::case(
            id,
            "the report carries no valid reply recipient: the reporter cannot be answered",
        )
    })?;
    let reporter =
        parse_recipient(reporter).map_err(|e| Error::case(id, format!("reporter: {e}")))?;
    if reply_to.inspectorate.is_empty() {
        return Err(Error::case(
            id,
            format!("{REPLY_TO_JSON} lists no inspectorate recipient"),
        ));
    }
    let inspectorate = inspectorate_recipients(&reply_to, trusted, trust_server)?;
    let inspectorate = inspectorate
        .iter()
        .map(|r| parse_recipient(r).map_err(|e| Error::case(id, format!("inspectorate: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let inspectorate = same_kind_as_reporter(id, &reporter, inspectorate)?;
    Ok((reporter, inspectorate))
}

/// The inspectorate keys of the reporter's kind. A reply is all-classic or
/// all-post-quantum like every age file WBS writes (PROTOCOL.md §3.2): a
/// case from a classic report is answered with the classic keys, one from a
/// post-quantum report with the post-quantum keys, whichever keys opened
/// the bundle.
fn same_kind_as_reporter(
    id: &str,
    reporter: &Recipient,
    inspectorate: Vec<Recipient>,
) -> Result<Vec<Recipient>> {
    let kind = reporter.kind();
    let (same, other): (Vec<Recipient>, Vec<Recipient>) =
        inspectorate.into_iter().partition(|r| r.kind() == kind);
    if same.is_empty() {
        let other_kind = match kind {
            RecipientKind::Classic => RecipientKind::PostQuantum,
            RecipientKind::PostQuantum => RecipientKind::Classic,
        };
        return Err(Error::case(
            id,
            format!(
                "the reporter's reply key is {} but every inspectorate key is {} ({}): a reply \
                 cannot mix the two; pass --recipients with the inspectorate's {} .pub file",
                kind.describe(),
                other_kind.describe(),
                other.len(),
                kind.describe()
            ),
        ));
    }
    Ok(same)
}

/// The reply text: a UTF-8 file, or standard input for `-`.
fn read_message(path: &Path) -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::new());
    let result = if path == Path::new("-") {
        io::stdin()
            .lock()
            .take(MAX_BODY_LEN + 1)
            .read_to_end(&mut bytes)
    } else {
        File::open(path).and_then(|f| f.take(MAX_BODY_LEN + 1).read_to_end(&mut bytes))
    };
    result.map_err(|e| Error::read(path, e))?;
    if bytes.len() as u64 > MAX_BODY_LEN {
        return Err(Error::Usage(format!(
            "the message is longer than {MAX_BODY_LEN} bytes"
        )));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::Usage(format!("{} is not UTF-8 text", path.display())))?;
    if text.trim().is_empty() {
        return Err(Error::Usage("the message is empty".into()));
    }
    Ok(Zeroizing::new(text.to_string()))
}

/// The existing reply bundle, or a new empty one. Anything else at that
/// path is refused: the tool only ever replaces a bundle it made.
fn load_bundle(path: &Path) -> Result<ReplyBundle> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ReplyBundle::default()),
        Err(e) => return Err(Error::read(path, e)),
    };
    let meta = fs::symlink_metadata(path).map_err(|e| Error::read(path, e))?;
    if !meta.file_type().is_file() {
        return Err(Error::Usage(format!(
            "{} exists and is not a reply bundle; refusing to touch it",
            path.display()
        )));
    }
    ReplyBundle::read(BufReader::new(file), &Limits::REPLIES).map_err(|e| {
        Error::Usage(format!(
            "{} exists and is not a valid reply bundle ({e}); refusing to touch it",
            path.display()
        ))
    })
}

/// 20 random lower-case base32 symbols (100 bits).
fn new_item_id() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // 32 divides 256: the low five bits are uniform.
    bytes
        .iter()
        .map(|b| ID_ALPHABET[(b & 0x1f) as usize] as char)
        .collect()
}

/// The investigator's own record of a sent reply.
fn sent_record(
    case_id: &str,
    item_id: &str,
    today: &str,
    status: Option<Status>,
    body: &str,
    recipients: &[String],
    bundle: &Path,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Reply sent to the reporter\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| Case | `{case_id}` |");
    let _ = writeln!(md, "| Reply item | `{item_id}` |");
    let _ = writeln!(md, "| Written on | {today} |");
    if let Some(s) = status {
        let _ = writeln!(
            md,
            "| New status | `{}` ({} / {}) |",
            s.as_str(),
            s.label_en(),
            s.label_id()
        );
    }
    let _ = writeln!(
        md,
        "| Reply bundle | {} |",
        code_cell(&bundle.display().to_string())
    );
    let _ = writeln!(
        md,
        "| Encrypted to | the reporter `{}`; the inspectorate {} |\n",
        recipients[0],
        recipients[1..]
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        md,
        "It reaches the reporter once the bundle is pushed with `wbs-desk push`.\n"
    );
    let _ = writeln!(md, "## Message\n\n{}", block(body));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_are_valid_and_distinct() {
        let a = new_item_id();
        let b = new_item_id();
        assert_eq!(a.len(), 20);
        assert!(is_valid_id(&a) && is_valid_id(&b));
        assert_ne!(a, b);
    }
}
