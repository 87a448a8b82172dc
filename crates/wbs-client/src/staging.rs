//! Encrypted objects waiting to be uploaded.
//!
//! Attachments can be large, so each is encrypted as a stream into a file in
//! a private temporary folder (mode 0700, removed when done) while its
//! SHA-256 and size are computed in the same pass: memory use stays constant
//! whatever the file size, and the upload can be repeated from the staged
//! files if the connection breaks.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wbs_protocol::envelope::encrypt_padded;
use wbs_protocol::message::AttachmentMeta;
use wbs_protocol::padding::FILE_PAD;

use crate::media::media_type_for;
use crate::{ClientError, PlannedFile, PreparedAttachment};

/// An encrypted object in the staging folder.
pub(crate) struct StagedObject {
    /// Where it is.
    pub path: PathBuf,
    /// Its length in bytes.
    pub len: u64,
}

/// A private folder for encrypted objects: temporary (removed when
/// dropped), or the pending folder of a resumable upload
/// ([`crate::resumable`]), removed once the server confirmed.
pub(crate) struct Staging {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    count: usize,
}

impl Staging {
    /// Creates the folder in the system's temporary directory (`TMPDIR`).
    pub fn new() -> Result<Self, ClientError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("wbs-upload-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let dir = builder
            .tempdir()
            .map_err(|e| ClientError::io("cannot create a private temporary folder", e))?;
        Ok(Staging {
            dir: dir.path().to_path_buf(),
            _temp: Some(dir),
            count: 0,
        })
    }

    /// Objects in `dir`, a private folder that outlives this value.
    pub fn in_dir(dir: &Path) -> Self {
        Staging {
            dir: dir.to_path_buf(),
            _temp: None,
            count: 0,
        }
    }

    /// Encrypts the file at `source`, zero-padded, to `recipients` and
    /// returns what the report says about it together with the staged object.
    pub fn encrypt_attachment<K: age::Recipient>(
        &mut self,
        recipients: &[K],
        file: &PreparedAttachment,
    ) -> Result<(AttachmentMeta, StagedObject), ClientError> {
        let source = file.path.as_path();
        let name = file.report_name()?;
        // The cleaned copy from memory, or the file itself, streamed.
        let input: Box<dyn Read + '_> = match &file.content {
            Some(content) => Box::new(&content[..]),
            None => Box::new(
                File::open(source)
                    .map_err(|e| ClientError::io(format!("cannot read {}", source.display()), e))?,
            ),
        };
        self.count += 1;
        let path = self.dir.join(format!("{}.age", self.count));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let output = options
            .open(&path)
            .map_err(|e| ClientError::io("cannot write to the temporary folder", e))?;
        let mut hashing = HashingReader {
            inner: input,
            hasher: Sha256::new(),
        };
        let mut writer = BufWriter::new(output);
        let size = encrypt_padded(recipients, &mut hashing, FILE_PAD, &mut writer).map_err(
            |e| match e {
                wbs_protocol::EncryptError::Io(io) => {
                    ClientError::io(format!("cannot encrypt {}", source.display()), io)
                }
                other => ClientError::Crypto(other.to_string()),
            },
        )?;
        writer
            .flush()
            .map_err(|e| ClientError::io("cannot write to the temporary folder", e))?;
        let len = writer
            .get_ref()
            .metadata()
            .map_err(|e| ClientError::io("cannot write to the temporary folder", e))?
            .len();
        let media_type = media_type_for(Path::new(&name)).to_string();
        let meta = AttachmentMeta {
            name,
            media_type,
            size,
            sha256: wbs_protocol::hex(&hashing.hasher.finalize()),
            metadata: file.metadata.clone(),
        };
        Ok((meta, StagedObject { path, len }))
    }
}

/// What the document says about an attachment (name, type, size, digest
/// of the bytes sent), computed without encrypting it: a resumed upload
/// checks that its staged object was made from these bytes.
pub(crate) fn describe_attachment(
    file: &PreparedAttachment,
) -> Result<AttachmentMeta, ClientError> {
    let source = file.path.as_path();
    let name = file.report_name()?;
    let input: Box<dyn Read + '_> = match &file.content {
        Some(content) => Box::new(&content[..]),
        None => Box::new(
            File::open(source)
                .map_err(|e| ClientError::io(format!("cannot read {}", source.display()), e))?,
        ),
    };
    let mut hashing = HashingReader {
        inner: input,
        hasher: Sha256::new(),
    };
    let size = io::copy(&mut hashing, &mut io::sink())
        .map_err(|e| ClientError::io(format!("cannot read {}", source.display()), e))?;
    let media_type = media_type_for(Path::new(&name)).to_string();
    Ok(AttachmentMeta {
        name,
        media_type,
        size,
        sha256: wbs_protocol::hex(&hashing.hasher.finalize()),
        metadata: file.metadata.clone(),
    })
}

/// Looks at each attachment before anything is encrypted: it must be a
/// readable regular file. Returns the names and sizes for the limit checks.
pub(crate) fn plan_attachments(
    files: &[Cow<'_, PreparedAttachment>],
) -> Result<Vec<PlannedFile>, ClientError> {
    files
        .iter()
        .map(|f| {
            let p = &f.path;
            let name = f.report_name()?;
            let meta = std::fs::metadata(p).map_err(|e| {
                ClientError::io(format!("cannot read attachment {}", p.display()), e)
            })?;
            if !meta.is_file() {
                return Err(ClientError::Input(format!(
                    "attachment {} is not a regular file",
                    p.display()
                )));
            }
            Ok(PlannedFile {
                name,
                size: f.content.as_ref().map_or(meta.len(), |c| c.len() as u64),
            })
        })
        .collect()
}

/// Hashes what passes through.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::x25519::Identity;
    use wbs_protocol::envelope::decrypt_stream;

    #[test]
    fn attachments_are_encrypted_padded_and_described() {
        let source_dir = tempfile::tempdir().unwrap();
        let source = source_dir.path().join("Bukti Transfer.PDF");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&source, &data).unwrap();

        let id = Identity::generate();
        let mut staging = Staging::new().unwrap();
        let (meta, staged) = staging
            .encrypt_attachment(&[id.to_public()], &PreparedAttachment::file(&source))
            .unwrap();

        assert_eq!(meta.name, "Bukti Transfer.PDF");
        assert_eq!(meta.media_type, "application/pdf");
        assert_eq!(meta.size, data.len() as u64);
        assert_eq!(meta.sha256, wbs_protocol::hex(&Sha256::digest(&data)));

        let ciphertext = std::fs::read(&staged.path).unwrap();
        assert_eq!(ciphertext.len() as u64, staged.len);
        let mut plain = Vec::new();
        decrypt_stream(&id, &ciphertext[..])
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(
            plain.len() as u64,
            wbs_protocol::padding::padme(data.len() as u64)
        );
        assert_eq!(&plain[..data.len()], &data[..]);
        assert!(plain[data.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_prepared_attachment_sends_its_content_under_its_name_with_its_note() {
        let source_dir = tempfile::tempdir().unwrap();
        let source = source_dir.path().join("IMG_20230405_101112.jpg");
        std::fs::write(&source, b"original bytes with GPS").unwrap();
        let cleaned = b"cleaned".to_vec();
        let note = wbs_protocol::message::MetadataNote {
            checked: true,
            removed: vec!["gps".into()],
            kept: vec![],
        };
        let file = PreparedAttachment {
            path: source.clone(),
            name: Some("lampiran-1.jpg".into()),
            content: Some(cleaned.clone()),
            metadata: Some(note.clone()),
        };
        let planned = plan_attachments(&[Cow::Borrowed(&file)]).unwrap();
        assert_eq!(planned[0].name, "lampiran-1.jpg");
        assert_eq!(planned[0].size, cleaned.len() as u64);

        let id = Identity::generate();
        let mut staging = Staging::new().unwrap();
        let (meta, staged) = staging
            .encrypt_attachment(&[id.to_public()], &file)
            .unwrap();
        assert_eq!(meta.name, "lampiran-1.jpg");
        assert_eq!(meta.media_type, "image/jpeg");
        // Size and digest are those of what is sent: the cleaned bytes.
        assert_eq!(meta.size, cleaned.len() as u64);
        assert_eq!(meta.sha256, wbs_protocol::hex(&Sha256::digest(&cleaned)));
        assert_eq!(meta.metadata, Some(note));
        let ciphertext = std::fs::read(&staged.path).unwrap();
        let mut plain = Vec::new();
        decrypt_stream(&id, &ciphertext[..])
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(&plain[..cleaned.len()], &cleaned[..]);
    }

    #[cfg(unix)]
    #[test]
    fn the_staging_folder_is_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let staging = Staging::new().unwrap();
        let path = staging.dir.clone();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(staging);
        assert!(!path.exists());
    }

    #[test]
    fn folders_and_missing_files_are_refused_as_attachments() {
        let dir = tempfile::tempdir().unwrap();
        let plan = |p: PathBuf| plan_attachments(&[Cow::Owned(PreparedAttachment::file(&p))]);
        let err = plan(dir.path().to_path_buf()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let missing = dir.path().join("missing.pdf");
        let err = plan(missing).unwrap_err();
        assert!(err.to_string().contains("missing.pdf"), "{err}");
    }
}
