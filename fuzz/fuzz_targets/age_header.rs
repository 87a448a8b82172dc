//! The server's structural check of uploaded age files, on any bytes, any
//! expected recipient count and either kind of recipient stanza. Besides never panicking, it must be
//! consistent with how the server streams: every prefix of a header that
//! passes must answer "need more", never an error, or the server would
//! refuse a valid upload depending on how the network cut it into chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbs_protocol::header::{
    check_header, check_object, payload_len_is_valid, HeaderCheck, Stanzas,
};
use wbs_protocol::keys::RecipientKind;

fuzz_target!(|data: &[u8]| {
    let Some((&first, object)) = data.split_first() else {
        return;
    };
    // The high bit picks a post-quantum deployment.
    let kind = if first & 0x80 != 0 {
        RecipientKind::PostQuantum
    } else {
        RecipientKind::Classic
    };
    let expected = Stanzas::exactly(usize::from(first % 5)).of(kind);
    let whole = check_object(object, expected);
    let header = check_header(object, expected);
    if let Ok(header_len) = whole {
        assert_eq!(header, Ok(HeaderCheck::Complete { header_len }));
        assert!(payload_len_is_valid((object.len() - header_len) as u64));
        for cut in [0, header_len / 3, header_len / 2, header_len - 1] {
            assert_eq!(
                check_header(&object[..cut], expected),
                Ok(HeaderCheck::NeedMore),
                "prefix of {cut} bytes"
            );
        }
    }
    if let Ok(HeaderCheck::Complete { header_len }) = header {
        assert!(header_len <= object.len());
        // More bytes after a complete header never change the verdict.
        assert_eq!(
            check_header(&object[..header_len], expected),
            Ok(HeaderCheck::Complete { header_len })
        );
    }
});
