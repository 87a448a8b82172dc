//! Reply bundles: replies and status changes carried from the air-gapped
//! machine back to the server.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::tar_safe::{append_file, read_entries, read_manifest, Limits, VerifyingReader};
use super::{is_valid_id, BundleError};
use crate::status::Status;

/// Format tag of `replies.json`.
pub const REPLIES_FORMAT: &str = "wbs-replies/1";
const MANIFEST_PATH: &str = "replies.json";

/// `replies.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RepliesManifest {
    /// Always [`REPLIES_FORMAT`].
    pub format: String,
    /// Status changes and replies, applied in order.
    pub items: Vec<ReplyItem>,
}

/// One item: a status change, a reply, or both, for one case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReplyItem {
    /// Random identifier; the server applies each item once.
    pub id: String,
    /// The case it is for.
    pub case_id: String,
    /// A new status, if any.
    #[serde(default)]
    pub status: Option<Status>,
    /// A reply file, if any.
    #[serde(default)]
    pub reply: Option<ReplyFile>,
}

/// A reply age file listed in `replies.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReplyFile {
    /// Path in the bundle: `replies/<item id>.age`.
    pub path: String,
    /// Size of the age file.
    pub size: u64,
    /// SHA-256 of the age file, lower-case hex.
    pub sha256: String,
}

impl ReplyItem {
    /// The path its reply file must have.
    pub fn reply_path(&self) -> String {
        format!("replies/{}.age", self.id)
    }
}

/// A whole reply bundle in memory (replies are short text documents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyBundle {
    /// The manifest.
    pub manifest: RepliesManifest,
    /// The reply files by path.
    pub files: HashMap<String, Vec<u8>>,
}

impl Default for ReplyBundle {
    fn default() -> Self {
        ReplyBundle {
            manifest: RepliesManifest {
                format: REPLIES_FORMAT.into(),
                items: Vec::new(),
            },
            files: HashMap::new(),
        }
    }
}

fn check_manifest(m: &RepliesManifest) -> Result<(), BundleError> {
    if m.format != REPLIES_FORMAT {
        return Err(BundleError::Manifest(format!(
            "unsupported format {:?} (expected {REPLIES_FORMAT})",
            m.format
        )));
    }
    let mut ids = HashSet::new();
    for item in &m.items {
        if !is_valid_id(&item.id) || !ids.insert(item.id.as_str()) {
            return Err(BundleError::Manifest(format!("bad item id {:?}", item.id)));
        }
        if !is_valid_id(&item.case_id) {
            return Err(BundleError::Manifest(format!(
                "bad case id {:?}",
                item.case_id
            )));
        }
        if item.status.is_none() && item.reply.is_none() {
            return Err(BundleError::Manifest(format!(
                "item {} does nothing",
                item.id
            )));
        }
        if let Some(r) = &item.reply {
            if r.path != item.reply_path() || crate::parse_sha256_hex(&r.sha256).is_none() {
                return Err(BundleError::Manifest(format!(
                    "item {}: bad reply entry",
                    item.id
                )));
            }
        }
    }
    Ok(())
}

/// Reads a reply bundle as a stream: `on_manifest` sees the checked manifest
/// first, then `on_file(item, data)` each reply file, whose reader fails at
/// the end on a SHA-256 mismatch. Fails if a listed file is missing.
pub fn read_streaming<R: Read>(
    reader: R,
    limits: &Limits,
    mut on_manifest: impl FnMut(&RepliesManifest) -> Result<(), BundleError>,
    mut on_file: impl FnMut(&ReplyItem, &mut dyn Read) -> Result<(), BundleError>,
) -> Result<RepliesManifest, BundleError> {
    let mut manifest: Option<RepliesManifest> = None;
    let mut pending: HashMap<String, usize> = HashMap::new();
    read_entries(reader, limits, |path, size, data| {
        let Some(m) = manifest.as_ref() else {
            if path != MANIFEST_PATH {
                return Err(BundleError::Manifest(
                    "replies.json must be the first entry".into(),
                ));
            }
            let m: RepliesManifest = read_manifest(path, size, data, limits)?;
            check_manifest(&m)?;
            for (i, item) in m.items.iter().enumerate() {
                if let Some(r) = &item.reply {
                    pending.insert(r.path.clone(), i);
                }
            }
            on_manifest(&m)?;
            manifest = Some(m);
            return Ok(());
        };
        let index = pending
            .remove(path)
            .ok_or_else(|| BundleError::Unexpected(path.to_string()))?;
        let item = &m.items[index];
        let file = item.reply.as_ref().expect("pending items have a reply");
        if file.size != size {
            return Err(BundleError::Manifest(format!(
                "{path} is {size} bytes, replies.json says {}",
                file.size
            )));
        }
        let expected = crate::parse_sha256_hex(&file.sha256).expect("checked");
        let mut verifying = VerifyingReader::new(data, expected);
        on_file(item, &mut verifying)?;
        std::io::copy(&mut verifying, &mut std::io::sink())
            .map_err(|_| BundleError::HashMismatch(path.to_string()))?;
        Ok(())
    })?;
    let manifest =
        manifest.ok_or_else(|| BundleError::Manifest("replies.json is missing".into()))?;
    if let Some(missing) = pending.keys().next() {
        return Err(BundleError::Incomplete(format!("{missing} is missing")));
    }
    Ok(manifest)
}

impl ReplyBundle {
    /// Reads and checks a whole reply bundle into memory.
    pub fn read<R: Read>(reader: R, limits: &Limits) -> Result<Self, BundleError> {
        let mut files = HashMap::new();
        let manifest = read_streaming(
            reader,
            limits,
            |_| Ok(()),
            |item, data| {
                let mut buf = Vec::new();
                data.read_to_end(&mut buf).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        BundleError::HashMismatch(item.reply_path())
                    } else {
                        BundleError::Tar(e.to_string())
                    }
                })?;
                files.insert(item.reply_path(), buf);
                Ok(())
            },
        )?;
        Ok(ReplyBundle { manifest, files })
    }

    /// Adds an item; `reply` is the age file, if any.
    pub fn push(&mut self, mut item: ReplyItem, reply: Option<Vec<u8>>) {
        item.reply = reply.map(|bytes| {
            let path = item.reply_path();
            let file = ReplyFile {
                path: path.clone(),
                size: bytes.len() as u64,
                sha256: crate::hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            };
            self.files.insert(path, bytes);
            file
        });
        self.manifest.items.push(item);
    }

    /// Writes the bundle as a deterministic tar.
    pub fn write<W: Write>(&self, out: W) -> Result<W, BundleError> {
        check_manifest(&self.manifest)?;
        let mut builder = tar::Builder::new(out);
        let json = serde_json::to_vec_pretty(&self.manifest).expect("manifest serializes");
        append_file(&mut builder, MANIFEST_PATH, json.len() as u64, &json[..])?;
        for item in &self.manifest.items {
            if let Some(r) = &item.reply {
                let bytes = self
                    .files
                    .get(&r.path)
                    .ok_or_else(|| BundleError::Incomplete(format!("{} is missing", r.path)))?;
                append_file(&mut builder, &r.path, bytes.len() as u64, &bytes[..])?;
            }
        }
        Ok(builder.into_inner()?)
    }
}
