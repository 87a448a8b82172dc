// Resumable uploads of large attachments (docs/PROTOCOL.md §7.4).
//
// An attachment is encrypted once into a Blob (ui.js keeps it per File until
// the server confirms), then sent in parts: POST /api/v1/uploads opens the
// upload (with a proof of work), each PATCH sends the next part from the
// offset the server holds, and after a break HEAD tells where to go on. The
// page resumes by itself when the connection comes back (the `online`
// event, or a retry with growing pauses), and shows "connection lost,
// resuming…" meanwhile. The same bytes are sent again on every attempt: they
// are the bytes of the one Blob, never a new encryption.

import { ApiError } from "./api.js";
import { obtainPow } from "./ui.js";

/** Attachments whose encrypted size is above this go through resumable uploads. */
export const RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
/**
 * Bytes per PATCH. A break costs at most this much again: when a connection
 * it reused is reset, Chromium silently sends the whole request again on a
 * new one (seen in web/test/browser/resumable.test.mjs), and the server
 * accepts the bytes it already holds as an idempotent resend.
 */
export const PART_SIZE = 4 * 1024 * 1024;
/** Longest pause between two attempts. */
const MAX_PAUSE_MS = 30_000;
/** Attempts in a row that gain no byte before giving up. */
const MAX_FRUITLESS = 12;

function errorOf(xhr) {
  try {
    const body = JSON.parse(xhr.responseText);
    if (body && body.error) return new ApiError(xhr.status, String(body.error.code || ""), String(body.error.message || ""));
  } catch {
    /* not JSON */
  }
  return new ApiError(xhr.status, "", "");
}

/** One request with upload progress; resolves with the XMLHttpRequest whatever its status. */
function send(method, path, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.withCredentials = false;
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (onProgress) {
      xhr.upload.onprogress = (e) => onProgress(e.loaded);
    }
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new ApiError(0, "network", ""));
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => reject(new ApiError(0, "aborted", ""));
    xhr.send(body ?? null);
  });
}

function offsetOf(xhr) {
  const v = xhr.getResponseHeader("Upload-Offset");
  return v !== null && /^\d+$/.test(v.trim()) ? Number(v.trim()) : null;
}

/** Waits `ms`, or less when the browser says the network is back. */
function pause(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
  });
}

/** Opens an upload of `size` bytes; `null` if the server has no resumable uploads. */
async function open(size, config, progress) {
  const body = { length: size };
  const withPow = Boolean(config.pow && config.pow.difficulty > 0);
  for (let tries = 0; ; tries++) {
    if (withPow) body.pow = (await obtainPow(config, progress)).pow;
    const xhr = await send("POST", "/api/v1/uploads", { "Content-Type": "application/json" }, JSON.stringify(body));
    if (xhr.status === 201) {
      const id = JSON.parse(xhr.responseText).upload;
      if (typeof id !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(id)) throw new ApiError(xhr.status, "bad_response", "");
      return id;
    }
    // An older server (404, 405), or no room for an upload now (507
    // staging_full): the attachment goes inline, as a one-shot upload.
    if (xhr.status === 404 || xhr.status === 405 || xhr.status === 507) return null;
    const err = errorOf(xhr);
    // A challenge that went stale while the file was encrypted: once more.
    if (tries === 0 && /^pow_/.test(err.code)) continue;
    throw err;
  }
}

/**
 * Sends `blob` through a resumable upload and returns its id once the server
 * holds it whole and checked; `null` when the server does not offer them.
 * `onBytes(n)` is told how many bytes the server holds (or is receiving);
 * `onState("resuming" | "sending")` when a break starts and ends.
 */
export async function resumableUpload(blob, { config, progress, onBytes, onState }) {
  let id = await open(blob.size, config, progress);
  if (id === null) return null;
  const path = () => `/api/v1/uploads/${id}`;
  let offset = 0;
  let known = true;
  let fruitless = 0;
  let wait = 1000;
  let best = 0;
  let reopened = 0;
  for (;;) {
    try {
      if (!known) {
        const head = await send("HEAD", path(), {}, null);
        if (head.status === 404) {
          // Expired, or the server restarted: start this one again.
          if (++reopened > 3) throw new ApiError(404, "upload_not_found", "");
          id = await open(blob.size, config, progress);
          if (id === null) return null;
          offset = 0;
        } else if (head.status >= 200 && head.status < 300) {
          offset = offsetOf(head) ?? 0;
          if (head.getResponseHeader("Upload-Complete") === "?1") return id;
        } else {
          throw errorOf(head);
        }
        known = true;
        onState("sending");
      }
      if (offset >= blob.size) return id;
      const end = Math.min(blob.size, offset + PART_SIZE);
      const start = offset;
      const xhr = await send(
        "PATCH",
        path(),
        {
          "Upload-Offset": String(start),
          "Upload-Complete": end === blob.size ? "?1" : "?0",
          "Content-Type": "application/partial-upload",
        },
        blob.slice(start, end),
        (loaded) => onBytes(start + loaded),
      );
      if (xhr.status >= 200 && xhr.status < 300) {
        offset = offsetOf(xhr) ?? end;
        onBytes(offset);
        if (xhr.getResponseHeader("Upload-Complete") === "?1") return id;
      } else if (xhr.status === 409 && offsetOf(xhr) !== null && errorOf(xhr).code !== "upload_conflict") {
        offset = offsetOf(xhr);
      } else if (xhr.status === 404) {
        known = false;
        continue;
      } else if (xhr.status === 408 || xhr.status === 429 || xhr.status >= 502) {
        throw new ApiError(0, "network", "");
      } else {
        throw errorOf(xhr);
      }
      if (offset > best) {
        best = offset;
        fruitless = 0;
        wait = 1000;
      }
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 0 || e.code === "aborted") throw e;
      // The connection broke: say so, wait for it to come back, then ask
      // the server where it stands.
      if (++fruitless > MAX_FRUITLESS) throw e;
      onState("resuming");
      await pause(wait);
      wait = Math.min(MAX_PAUSE_MS, wait * 2);
      known = false;
    }
  }
}

/** The upload id of each encrypted Blob already uploaded from this page. */
const uploaded = new WeakMap();

/**
 * Sends every large attachment of `encrypted` (entries `{blob}` from
 * `encryptAttachments`) through a resumable upload and records its id in
 * `uploadId`, showing the progress of all of them in the "upload" row. An
 * id from an earlier attempt (the same Blob: it was encrypted once) is used
 * again if the server still holds it complete and unused.
 */
export async function uploadLarge(encrypted, config, progress) {
  const large = encrypted.filter((e) => e.blob.size > RESUMABLE_THRESHOLD);
  if (!large.length) return;
  const total = large.reduce((s, e) => s + e.blob.size, 0);
  let before = 0;
  let resuming = false;
  for (const e of large) {
    e.uploadId = uploaded.get(e.blob) || null;
    if (e.uploadId) {
      try {
        const head = await send("HEAD", `/api/v1/uploads/${e.uploadId}`, {}, null);
        if (head.status === 204 && head.getResponseHeader("Upload-Complete") === "?1") {
          before += e.blob.size;
          continue;
        }
      } catch {
        /* asked again below */
      }
      e.uploadId = null;
    }
    let held = 0;
    const show = () => {
      const done = before + held;
      progress.set("upload", done / total, resuming ? "progress.resuming" : "progress.uploaded", {
        done: { bytes: done },
        total: { bytes: total },
      });
    };
    const id = await resumableUpload(e.blob, {
      config,
      progress,
      onBytes: (n) => {
        held = n;
        show();
      },
      onState: (state) => {
        resuming = state === "resuming";
        show();
      },
    });
    if (id === null) continue; // this one goes inline
    e.uploadId = id;
    uploaded.set(e.blob, id);
    before += e.blob.size;
  }
}

/** Adds an attachment to a submission or follow-up: by its upload id, or inline. */
export function appendAttachment(fd, e) {
  if (e.uploadId) {
    fd.append("attachment_upload", e.uploadId);
  } else {
    fd.append("attachment", e.blob, "attachment.age");
  }
}
