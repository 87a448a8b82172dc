//! Many small cases: created through the API by 32 clients, exported in one
//! bundle, and opened with `wbs-inspect open`.
//!
//! Each case has its own receipt code and its own sealed report, so the
//! bundle is what a desk would really pull after a busy period.

use std::path::Path;
use std::time::Duration;

use super::{download_export, opened_cases, say, Bins, Sizes};
use crate::error::{Error, Result};
use crate::load::{self, ClientKind, LoadSpec, Request};
use crate::machine::load_average;
use crate::payload::{
    boundary, meta_json, multipart_type, small_submission, submission_body, InspectorKey,
    Submission,
};
use crate::results::{mib, Many};
use crate::server::ServerProcess;
use crate::tools::{measure, sync_all};

/// Runs the scenario in `work/many`.
pub fn run(bins: &Bins, work: &Path, key: &InspectorKey, sizes: &Sizes) -> Result<Many> {
    let load_start = load_average();
    let dir = work.join("many");
    let n = sizes.cases;
    say(format!("sealing {n} reports (before any timing)"));
    let submissions: Vec<Submission> = (0..n)
        .map(|_| small_submission(&key.recipient, &key.new_code(), Vec::new()))
        .collect::<Result<_>>()?;

    let server = ServerProcess::start(&bins.server, &dir.join("server"), &key.keys_dir)?;
    let boundary = boundary();
    let content_type = multipart_type(&boundary);
    let make = |i: u64| {
        let s = &submissions[i as usize];
        Request {
            path: "/api/v1/submissions",
            content_type: content_type.clone(),
            body: submission_body(
                &boundary,
                &meta_json(&s.lookup, &s.reply_recipient),
                &s.report,
            ),
        }
    };
    let clients = sizes.clients.iter().copied().max().unwrap_or(1);
    let spec = LoadSpec {
        clients,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(3600),
        max_requests: n as u64,
    };
    let create = load::run(server.addr, ClientKind::Raw, spec, 201, &make)?;
    if create.ok != n as u64 {
        return Err(Error(format!(
            "creating {n} cases: {} stored, {} failed; first error: {}",
            create.ok,
            create.errors,
            create.first_error.as_deref().unwrap_or("none")
        )));
    }
    say(format!(
        "created {n} cases in {:.1} s ({:.0}/s, {clients} clients)",
        create.seconds, create.per_second
    ));

    let stored_memory = server.memory()?;
    say(format!(
        "server after storing them: RSS {:.1} MiB, peak so far {:.1} MiB",
        stored_memory.rss_kib as f64 / 1024.0,
        stored_memory.peak_kib as f64 / 1024.0
    ));
    server.reset_peak();
    let bundle = dir.join("export.tar");
    let (export_seconds, export_bytes) = download_export(server.addr, &server.token, &bundle)?;
    let export_memory = server.memory()?;
    say(format!(
        "export of {n} cases: {export_seconds:.2} s, {:.1} MiB, server peak RSS {:.1} MiB",
        mib(export_bytes),
        export_memory.peak_kib as f64 / 1024.0
    ));
    server.stop()?;
    sync_all();

    let opened = dir.join("opened");
    let inspect = measure(
        &bins.inspect,
        &[
            &"open",
            &bundle,
            &"--identity",
            &key.identity_file,
            &"--out",
            &opened,
        ],
        &dir,
    )?;
    let found = opened_cases(&opened);
    if found != n {
        return Err(Error(format!(
            "wbs-inspect open wrote {found} cases, {n} expected"
        )));
    }
    say(format!(
        "wbs-inspect open of {n} cases: {:.2} s, peak RSS {:.1} MiB",
        inspect.seconds,
        inspect.peak_kib as f64 / 1024.0
    ));
    Ok(Many {
        cases: n,
        create: Some(create),
        stored_memory,
        export_seconds,
        export_bytes,
        export_memory,
        inspect,
        load_avg: (load_start, load_average()),
    })
}
