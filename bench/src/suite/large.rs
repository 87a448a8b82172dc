//! One large attachment, end to end: the upload next to a plain `dd` copy
//! of the same bytes, the export of that case, and `wbs-inspect open` of
//! the bundle next to `age -d` of the same object.
//!
//! The encrypted object is made before anything is timed and fsynced, so
//! every step reads it from the page cache; `sync` runs between steps so no
//! write-back of one step lands in the next. Each step runs
//! [`Sizes::rounds`] times, alternating with its baseline, because a
//! shared VM disk and page cache vary more from one second to the next
//! than the difference being measured.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use wbs_protocol::padding::padme;

use super::{download_export, opened_cases, remove_dir, say, Bins, Sizes};
use crate::error::{Context, Error, Result};
use crate::http::{request_bytes, request_head, Connection};
use crate::machine::load_average;
use crate::payload::{
    boundary, encrypt_attachment, meta_json, multipart_type, small_submission,
    submission_naming_upload, submission_with_attachment, InspectorKey,
};
use crate::results::{kib_to_mib, mib, size_label, Large, RESUMABLE_BREAKS};
use crate::server::{Memory, ServerProcess};
use crate::tools::{dd_copy, measure, sync_all, timed};

fn plain_copy(object: &Path, dir: &Path) -> Result<f64> {
    let copy = dir.join("dd-copy");
    let seconds = dd_copy(object, &copy)?;
    let _ = std::fs::remove_file(&copy);
    sync_all();
    Ok(seconds)
}

/// Uploads `object` as the one attachment of a new submission; returns
/// seconds to the 201.
fn upload(
    server: &ServerProcess,
    key: &InspectorKey,
    attachment: wbs_protocol::message::AttachmentMeta,
    object: &Path,
) -> Result<f64> {
    let addr = server.addr;
    let submission = small_submission(&key.recipient, &key.new_code(), vec![attachment])?;
    let object_bytes = std::fs::metadata(object)?.len();
    let boundary = boundary();
    let (before, after) = submission_with_attachment(
        &boundary,
        &meta_json(&submission.lookup, &submission.reply_recipient),
        &submission.report,
    );
    let body_len = before.len() as u64 + object_bytes + after.len() as u64;
    let mut head = request_head(
        "POST",
        "/api/v1/submissions",
        &addr,
        &[("Content-Type", &multipart_type(&boundary))],
        body_len,
    );
    head.extend_from_slice(&before);
    let mut conn = Connection::new(addr, Duration::from_secs(600));
    let mut file = File::open(object)?;
    let started = Instant::now();
    let response = conn
        .send_file(&head, &mut file, &after)
        .context("uploading the large attachment")?;
    let seconds = started.elapsed().as_secs_f64();
    if response.status != 201 {
        return Err(Error(format!(
            "the large upload answered {}: {}",
            response.status,
            response.text()
        )));
    }
    Ok(seconds)
}

/// The same object through a resumable upload (docs/PROTOCOL.md §7.4):
/// opened, then sent over connections that break [`RESUMABLE_BREAKS`]
/// times (each PATCH announces the whole rest, and its connection is
/// dropped part way), each time resumed from the offset `HEAD` gives, and
/// finally named by a submission. Returns seconds from the opening to the
/// 201.
fn resumable_upload(
    server: &ServerProcess,
    key: &InspectorKey,
    attachment: wbs_protocol::message::AttachmentMeta,
    object: &Path,
) -> Result<f64> {
    let addr = server.addr;
    let len = std::fs::metadata(object)?.len();
    let submission = small_submission(&key.recipient, &key.new_code(), vec![attachment])?;
    let mut conn = Connection::new(addr, Duration::from_secs(600));
    let started = Instant::now();
    let open = request_bytes(
        "POST",
        "/api/v1/uploads",
        &addr,
        &[("Content-Type", "application/json")],
        format!("{{\"length\":{len}}}").as_bytes(),
    );
    let r = conn.send(&open).context("opening the upload")?;
    if r.status != 201 {
        return Err(Error(format!(
            "opening answered {}: {}",
            r.status,
            r.text()
        )));
    }
    let opened: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|e| Error(e.to_string()))?;
    let id = opened["upload"]
        .as_str()
        .ok_or("no upload id in the answer")?
        .to_string();
    let path = format!("/api/v1/uploads/{id}");
    let offset_of = |r: &crate::http::Response| -> Result<u64> {
        r.header("upload-offset")
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| Error(format!("no Upload-Offset in a {} answer", r.status)))
    };
    let mut file = File::open(object)?;
    let mut offset = 0u64;
    for k in 1..=RESUMABLE_BREAKS {
        // A connection that breaks once the object is k/(breaks+1) through.
        let cut = len * k / (RESUMABLE_BREAKS + 1);
        let offset_header = offset.to_string();
        let head = request_head(
            "PATCH",
            &path,
            &addr,
            &[
                ("Upload-Offset", &offset_header),
                ("Content-Type", "application/partial-upload"),
            ],
            len - offset,
        );
        {
            let mut s = std::net::TcpStream::connect(addr)?;
            s.write_all(&head)?;
            file.seek(SeekFrom::Start(offset))?;
            std::io::copy(&mut (&mut file).take(cut - offset), &mut s)?;
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        let r = conn
            .send(&request_bytes("HEAD", &path, &addr, &[], b""))
            .context("asking the offset")?;
        // What arrived before the break is kept; what was still on its way
        // when `HEAD` stopped the broken request is sent again.
        let held = offset_of(&r)?;
        if held < offset || held > cut {
            return Err(Error(format!(
                "the server held {held} bytes after a break at {cut} (before: {offset})"
            )));
        }
        offset = held;
    }
    let offset_header = offset.to_string();
    let head = request_head(
        "PATCH",
        &path,
        &addr,
        &[
            ("Upload-Offset", &offset_header),
            ("Content-Type", "application/partial-upload"),
        ],
        len - offset,
    );
    file.seek(SeekFrom::Start(offset))?;
    let r = conn
        .send_file(&head, &mut file, b"")
        .context("sending the rest")?;
    if r.status != 204 || r.header("upload-complete") != Some("?1") {
        return Err(Error(format!(
            "the last part answered {}: {}",
            r.status,
            r.text()
        )));
    }
    let boundary = boundary();
    let body = submission_naming_upload(
        &boundary,
        &meta_json(&submission.lookup, &submission.reply_recipient),
        &submission.report,
        &id,
    );
    let r = conn
        .send(&request_bytes(
            "POST",
            "/api/v1/submissions",
            &addr,
            &[("Content-Type", &multipart_type(&boundary))],
            &body,
        ))
        .context("naming the upload")?;
    if r.status != 201 {
        return Err(Error(format!(
            "the submission answered {}: {}",
            r.status,
            r.text()
        )));
    }
    Ok(started.elapsed().as_secs_f64())
}

fn higher(a: Memory, b: Memory) -> Memory {
    if b.peak_kib > a.peak_kib {
        b
    } else {
        a
    }
}

/// Runs the scenario in `work/large`.
pub fn run(bins: &Bins, work: &Path, key: &InspectorKey, sizes: &Sizes) -> Result<Large> {
    let load_start = load_average();
    let dir = work.join("large");
    std::fs::create_dir_all(&dir)?;
    let label = size_label(sizes.attachment);

    say(format!(
        "encrypting a {label} attachment (before any timing)"
    ));
    let object = dir.join("evidence.age");
    let meta = encrypt_attachment(&key.recipient, sizes.attachment, &object)?;
    let object_bytes = std::fs::metadata(&object)?.len();
    sync_all();
    let mut large = Large {
        attachment_bytes: sizes.attachment,
        object_bytes,
        ..Large::default()
    };
    let rate = |seconds: f64| mib(object_bytes) / seconds;

    let server = ServerProcess::start(&bins.server, &dir.join("server"), &key.keys_dir)?;
    if !server.reset_peak() {
        say("this kernel does not reset VmHWM; peaks are since the server started");
    }
    let bundle = dir.join("export.tar");
    for round in 0..sizes.rounds {
        let dd = plain_copy(&object, &dir)?;
        large.dd_seconds.push(dd);
        server.reset_peak();
        let ingest = upload(&server, key, meta.clone(), &object)?;
        large.ingest_seconds.push(ingest);
        let memory = server.memory()?;
        large.ingest_memory = higher(large.ingest_memory, memory);
        say(format!(
            "plain copy (dd conv=fsync) {:.0} MiB/s; ingest {:.0} MiB/s, server peak RSS {:.1} MiB",
            rate(dd),
            rate(ingest),
            kib_to_mib(memory.peak_kib)
        ));
        sync_all();
        if round == 0 {
            // Exported while the server holds this one case.
            server.reset_peak();
            let (seconds, bytes) = download_export(server.addr, &server.token, &bundle)?;
            large.export_seconds = seconds;
            large.export_bytes = bytes;
            large.export_memory = server.memory()?;
            say(format!(
                "export: {:.0} MiB/s, server peak RSS {:.1} MiB",
                mib(bytes) / seconds,
                kib_to_mib(large.export_memory.peak_kib)
            ));
            sync_all();
        }
        // After the export, which must hold the one case above.
        let dd = plain_copy(&object, &dir)?;
        server.reset_peak();
        let resumed = resumable_upload(&server, key, meta.clone(), &object)?;
        large.resumable_seconds.push(resumed);
        let memory = server.memory()?;
        large.resumable_memory = higher(large.resumable_memory, memory);
        say(format!(
            "plain copy {:.0} MiB/s; resumable upload broken {RESUMABLE_BREAKS} times {:.0} MiB/s, server peak RSS {:.1} MiB",
            rate(dd),
            rate(resumed),
            kib_to_mib(memory.peak_kib)
        ));
        large.dd_seconds.push(dd);
        sync_all();
    }
    server.stop()?;
    remove_dir(&dir.join("server"));
    sync_all();

    let opened = dir.join("opened");
    let plain = dir.join("age-out");
    for _ in 0..sizes.rounds {
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
        if opened_cases(&opened) != 1 {
            return Err("wbs-inspect open did not write the case".into());
        }
        large.inspect.push(inspect);
        let _ = std::fs::remove_dir_all(&opened);
        sync_all();

        // The desktop workbench imports through the same code, with its
        // window state around it: its memory must stay as flat.
        if let Some(workbench) = &bins.workbench {
            let run = measure(workbench, &[&bundle, &key.identity_file, &opened], &dir)?;
            if opened_cases(&opened) != 1 {
                return Err("the workbench did not import the case".into());
            }
            say(format!(
                "workbench import {:.0} MiB/s (peak RSS {:.1} MiB)",
                rate(run.seconds),
                kib_to_mib(run.peak_kib)
            ));
            large.workbench.push(run);
            let _ = std::fs::remove_dir_all(&opened);
            sync_all();
        }

        let age = measure(
            &bins.age,
            &[&"-d", &"-i", &key.identity_file, &"-o", &plain, &object],
            &dir,
        )?;
        let fsync = timed(Command::new("sync").arg(&plain))?;
        let written = std::fs::metadata(&plain)?.len();
        if written != padme(sizes.attachment) {
            return Err(Error(format!(
                "age wrote {written} bytes, {} expected",
                padme(sizes.attachment)
            )));
        }
        large.age.push(age);
        large.age_fsync_seconds.push(fsync);
        let _ = std::fs::remove_file(&plain);
        sync_all();
        say(format!(
            "wbs-inspect open {:.0} MiB/s (peak RSS {:.1} MiB); age -d to a file + fsync {:.0} MiB/s (peak RSS {:.1} MiB)",
            rate(inspect.seconds),
            kib_to_mib(inspect.peak_kib),
            rate(age.seconds + fsync),
            kib_to_mib(age.peak_kib)
        ));
    }
    if !super::KEEP.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = std::fs::remove_file(&bundle);
        let _ = std::fs::remove_file(&object);
    }
    sync_all();
    large.load_avg = (load_start, load_average());
    Ok(large)
}
