//! Receipt codes as a reporter types them: any string. Parsing must never
//! panic, and whatever parses must come back identical from its canonical
//! and its grouped form. Lookup keys as the server receives them, too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wbs_protocol::receipt::{ALPHABET, CODE_LEN, LONG_CODE_LEN};
use wbs_protocol::{LookupKey, ReceiptCode};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(code) = ReceiptCode::parse(&text) {
        let canonical = code.canonical().to_string();
        assert!(canonical.len() == CODE_LEN || canonical.len() == LONG_CODE_LEN);
        assert!(canonical.bytes().all(|b| ALPHABET.contains(&b)));
        assert!(ReceiptCode::parse(&canonical).unwrap() == code);
        assert!(ReceiptCode::parse(&code.display_grouped()).unwrap() == code);
        // The derivations never fail for a valid code.
        let _ = code.lookup_key().to_base64url();
        let _ = code.reply_recipient().to_string();
        let _ = code.reply_pq_recipient().to_string();
    }
    if let Some(key) = LookupKey::from_base64url(&text) {
        assert_eq!(key.to_base64url(), text);
    }
});
