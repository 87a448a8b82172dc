//! Checking sizes against the server's limits before anything is uploaded.
//!
//! A reporter on a slow Tor connection should learn that a file is too large
//! before spending an hour uploading it, so every object's encrypted size is
//! worked out from the file's size (PADMÉ padding, then age's framing) and
//! compared with the limits `GET /api/v1/config` announces. After encryption
//! the exact sizes are checked again, still before the upload.

use wbs_protocol::api::Limits;
use wbs_protocol::padding::padme;

use crate::ClientError;

/// Plaintext bytes per age STREAM chunk.
const AGE_CHUNK: u64 = 64 * 1024;
/// age's per-chunk authentication tag.
const AGE_TAG: u64 = 16;
/// age's payload nonce.
const AGE_NONCE: u64 = 16;
/// `age-encryption.org/v1\n`.
const AGE_VERSION_LINE: u64 = 22;
/// `-> X25519 <43 base64>\n<43 base64>\n`.
const AGE_X25519_STANZA: u64 = 98;
/// `--- <43 base64>\n`.
const AGE_MAC_LINE: u64 = 48;
/// What the multipart framing adds per part (boundary and part headers),
/// counted generously.
pub const MULTIPART_PART_OVERHEAD: u64 = 512;

/// The size of an age file holding `plain_len` bytes, for `recipients`
/// X25519 recipients, without the random "grease" stanza the age library
/// adds (at most a few hundred bytes): a lower bound of the real size.
pub fn age_len_lower_bound(plain_len: u64, recipients: usize) -> u64 {
    let chunks = plain_len.div_ceil(AGE_CHUNK).max(1);
    AGE_VERSION_LINE
        + AGE_X25519_STANZA * recipients as u64
        + AGE_MAC_LINE
        + AGE_NONCE
        + plain_len
        + AGE_TAG * chunks
}

/// The size, give or take the grease stanza, of a file of `size` bytes once
/// padded and encrypted to `recipients` recipients.
pub fn encrypted_file_len(size: u64, recipients: usize) -> u64 {
    age_len_lower_bound(padme(size), recipients)
}

/// Shows a byte count for people: `512 bytes`, `1.5 KiB`, `20.0 MiB`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return if n == 1 {
            "1 byte".into()
        } else {
            format!("{n} bytes")
        };
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A file about to be attached: its name (for messages) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// The name shown in messages.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Refuses attachments the server would refuse: too many, one too large
/// once padded and encrypted, or all together over the request limit.
/// Only files certainly too large are refused here; the exact sizes are
/// checked after encryption by [`check_objects`].
pub fn check_attachments(
    limits: &Limits,
    recipients: usize,
    files: &[PlannedFile],
) -> Result<(), ClientError> {
    if files.len() as u64 > u64::from(limits.max_attachments) {
        return Err(ClientError::Input(format!(
            "too many attachments: {} given, this server accepts at most {}",
            files.len(),
            limits.max_attachments
        )));
    }
    let mut total = 0u64;
    for f in files {
        let encrypted = encrypted_file_len(f.size, recipients);
        if encrypted > limits.max_object_bytes {
            return Err(ClientError::Input(format!(
                "attachment {:?} is too large: {} ({} once padded and encrypted); \
                 this server accepts at most {} per file",
                f.name,
                format_bytes(f.size),
                format_bytes(encrypted),
                format_bytes(limits.max_object_bytes)
            )));
        }
        total = total.saturating_add(encrypted + MULTIPART_PART_OVERHEAD);
    }
    if total > limits.max_request_bytes {
        return Err(ClientError::Input(format!(
            "the attachments together are too large: {} once padded and encrypted; \
             this server accepts at most {} per upload",
            format_bytes(total),
            format_bytes(limits.max_request_bytes)
        )));
    }
    Ok(())
}

/// Checks the exact sizes of the encrypted objects of one upload, named for
/// messages (`"the report"`, `"attachment \"a.pdf\""`), plus the JSON
/// metadata part.
pub fn check_objects(
    limits: &Limits,
    objects: &[(String, u64)],
    meta_len: u64,
) -> Result<(), ClientError> {
    let mut total = meta_len + MULTIPART_PART_OVERHEAD;
    for (what, len) in objects {
        if *len > limits.max_object_bytes {
            return Err(ClientError::Input(format!(
                "{what} is too large: {} once padded and encrypted; \
                 this server accepts at most {} per object",
                format_bytes(*len),
                format_bytes(limits.max_object_bytes)
            )));
        }
        total = total.saturating_add(len + MULTIPART_PART_OVERHEAD);
    }
    if total > limits.max_request_bytes {
        return Err(ClientError::Input(format!(
            "the upload is too large: {} once padded and encrypted; \
             this server accepts at most {} per upload",
            format_bytes(total),
            format_bytes(limits.max_request_bytes)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::x25519::Identity;
    use wbs_protocol::envelope::encrypt_padded;
    use wbs_protocol::padding::FILE_PAD;

    const LIMITS: Limits = Limits {
        max_object_bytes: 10 << 20,
        max_request_bytes: 25 << 20,
        max_attachments: 3,
    };

    fn file(name: &str, size: u64) -> PlannedFile {
        PlannedFile {
            name: name.into(),
            size,
        }
    }

    #[test]
    fn estimate_is_a_tight_lower_bound_of_real_age_files() {
        let recipients: Vec<_> = (0..2).map(|_| Identity::generate().to_public()).collect();
        for size in [0u64, 1, 100, 65_536, 65_537, 200_000, 1 << 20] {
            let data = vec![0xa5u8; size as usize];
            let mut out = Vec::new();
            encrypt_padded(&recipients, &data[..], FILE_PAD, &mut out).unwrap();
            let estimate = encrypted_file_len(size, recipients.len());
            let real = out.len() as u64;
            assert!(
                estimate <= real,
                "{size}: estimate {estimate} > real {real}"
            );
            assert!(
                real - estimate < 300,
                "{size}: estimate {estimate}, real {real}"
            );
        }
    }

    #[test]
    fn files_that_fit_pass() {
        check_attachments(&LIMITS, 2, &[file("a.pdf", 9 << 20), file("b.jpg", 1000)]).unwrap();
        check_attachments(&LIMITS, 2, &[]).unwrap();
    }

    #[test]
    fn too_many_attachments_are_refused_with_the_limit() {
        let files: Vec<_> = (0..4).map(|i| file(&format!("{i}.txt"), 1)).collect();
        let msg = check_attachments(&LIMITS, 2, &files)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("4 given"), "{msg}");
        assert!(msg.contains("at most 3"), "{msg}");
    }

    #[test]
    fn a_file_over_the_object_limit_is_named() {
        // Under the limit in plaintext, but not once padded and encrypted.
        let msg = check_attachments(
            &LIMITS,
            2,
            &[file("small.txt", 10), file("video.mp4", (10 << 20) - 100)],
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("\"video.mp4\""), "{msg}");
        assert!(msg.contains("10.0 MiB"), "{msg}");
    }

    #[test]
    fn files_over_the_request_limit_together_are_refused() {
        let files = [file("a", 9 << 20), file("b", 9 << 20), file("c", 9 << 20)];
        let msg = check_attachments(&LIMITS, 2, &files)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("together"), "{msg}");
        assert!(msg.contains("25.0 MiB"), "{msg}");
    }

    #[test]
    fn exact_object_sizes_are_checked() {
        check_objects(&LIMITS, &[("the report".into(), 2000)], 200).unwrap();
        let msg = check_objects(&LIMITS, &[("the report".into(), (10 << 20) + 1)], 200)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("the report is too large"), "{msg}");
        let many: Vec<_> = (0..3)
            .map(|i| (format!("attachment {i}"), 9 << 20))
            .collect();
        assert!(check_objects(&LIMITS, &many, 200).is_err());
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(format_bytes(0), "0 bytes");
        assert_eq!(format_bytes(1), "1 byte");
        assert_eq!(format_bytes(1023), "1023 bytes");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(20 << 20), "20.0 MiB");
    }
}
