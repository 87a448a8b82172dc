//! Export bundles as the air-gapped tool reads them: a tar that came from
//! a server that may be hostile. Never a panic, whatever the tar says; the
//! visitor reads every object to the end, as `wbs-inspect open` does.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use wbs_protocol::bundle::{
    read_export, BundleError, CaseManifest, ExportVisitor, Limits, ObjectEntry,
};

struct Drain;

impl ExportVisitor for Drain {
    fn object(
        &mut self,
        _: &CaseManifest,
        entry: &ObjectEntry,
        data: &mut dyn Read,
    ) -> Result<(), BundleError> {
        let mut buf = Vec::new();
        data.read_to_end(&mut buf)
            .map_err(|_| BundleError::HashMismatch(entry.path.clone()))?;
        assert_eq!(buf.len() as u64, entry.size);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = read_export(data, &Limits::EXPORT, &mut Drain);
});
