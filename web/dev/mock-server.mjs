// A development aid only: a stand-in for wbs-server, for working on the
// browser client without rebuilding the Rust server. It serves the built
// assets from disk with the real headers and implements the reporter-facing
// API v1 in memory. Unlike the real server it holds private keys (throwaway
// ones made at start), so that it can show what the browser sent. No test
// uses it (the browser tests in test/browser/ run the real server). Never
// deploy it.
//
//   node dev/mock-server.mjs [port]      (default 8080; POW=difficulty)

import { createServer } from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { join, dirname, extname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes, createHash } from "node:crypto";
import { Encrypter, Decrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { powCheck } from "../src/lib/pow.js";
import { replyAuth } from "../src/lib/thread.js";

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "crates", "wbs-server", "assets");
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".ico": "image/x-icon",
};
const PAGES = { "/": "index.html", "/report": "report.html", "/status": "status.html" };
const SECURITY = {
  "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
};
const STATUSES = {
  received: ["Diterima", "Received"],
  in_review: ["Sedang ditelaah", "In review"],
  need_info: ["Perlu informasi tambahan", "More information needed"],
  investigating: ["Dalam investigasi", "Under investigation"],
  forwarded: ["Diteruskan ke instansi berwenang", "Forwarded to the competent authority"],
  closed_substantiated: ["Selesai: terbukti", "Closed: substantiated"],
  closed_unsubstantiated: ["Selesai: tidak terbukti", "Closed: not substantiated"],
  rejected: ["Ditolak", "Rejected"],
};

function padme(len) {
  if (len < 2) return len;
  const e = Math.floor(Math.log2(len));
  const s = Math.floor(Math.log2(e)) + 1;
  const mask = 2 ** (e - s) - 1;
  return Math.ceil(len / (mask + 1)) * (mask + 1);
}

const today = () => new Date().toISOString().slice(0, 10);

/** Splits a multipart/form-data body into parts {name, filename, type, data}. */
export function parseMultipart(body, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || "");
  if (!m) throw new Error("no boundary");
  const delim = Buffer.from(`--${m[1] || m[2]}`);
  const parts = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing --
    pos += 2; // CRLF
    const headEnd = body.indexOf("\r\n\r\n", pos);
    const head = body.subarray(pos, headEnd).toString("utf8");
    const next = body.indexOf(delim, headEnd + 4);
    const data = body.subarray(headEnd + 4, next - 2);
    const name = /name="([^"]*)"/.exec(head)?.[1];
    const filename = /filename="([^"]*)"/.exec(head)?.[1] ?? null;
    const type = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1] ?? null;
    parts.push({ name, filename, type, data });
    pos = next;
  }
  return parts;
}

export async function startMockServer({ port = 8080, difficulty = 12, limits = {} } = {}) {
  const identities = [await generateX25519Identity(), await generateX25519Identity()];
  const recipients = await Promise.all(identities.map((i) => identityToRecipient(i)));
  const config = {
    organization: "Inspektorat Kota Contoh",
    recipients,
    categories: [
      { id: "korupsi", label: { id: "Korupsi dan suap", en: "Corruption and bribery" } },
      { id: "pengadaan", label: { id: "Pengadaan barang/jasa", en: "Procurement" } },
      { id: "pungli", label: { id: "Pungutan liar", en: "Illegal fees" } },
      { id: "lainnya", label: { id: "Lainnya", en: "Other" } },
    ],
    intro: {
      id: "Inspektorat Kota Contoh menerima laporan dugaan pelanggaran oleh aparatur pemerintah kota.",
      en: "The Contoh City Inspectorate receives reports of suspected wrongdoing by city officials.",
    },
    limits: { max_object_bytes: 8 * 1024 * 1024, max_request_bytes: 20 * 1024 * 1024, max_attachments: 5, ...limits },
    pow: { difficulty },
    statuses: Object.entries(STATUSES).map(([status, [id, en]]) => ({ status, label: { id, en } })),
  };
  const cases = new Map();
  // Faults for the next request, set through /__mock/fault:
  // "drop-after-store" (store, then cut the connection), "pow-expired".
  const faults = [];
  const spent = new Set();
  const log = [];

  const decrypter = new Decrypter();
  for (const i of identities) decrypter.addIdentity(i);

  function checkAge(data) {
    const head = data.subarray(0, 4096).toString("latin1");
    if (!head.startsWith("age-encryption.org/v1\n")) throw Object.assign(new Error("not an age file"), { status: 422 });
    const stanzas = head.split("\n---")[0].match(/^-> X25519 /gm) || [];
    if (stanzas.length !== recipients.length) throw Object.assign(new Error("wrong stanza count"), { status: 422 });
  }

  async function openJson(data, format) {
    checkAge(data);
    const plain = await decrypter.decrypt(new Uint8Array(data));
    const json = new TextDecoder().decode(plain).trimEnd();
    if (plain.length !== padme(Buffer.byteLength(json))) throw Object.assign(new Error("bad padding"), { status: 422 });
    const doc = JSON.parse(json);
    if (doc.format !== format) throw Object.assign(new Error("bad format"), { status: 422 });
    return doc;
  }

  async function openAttachments(meta, parts) {
    if (meta.length !== parts.length) throw Object.assign(new Error("attachment count"), { status: 422 });
    const out = [];
    for (let i = 0; i < parts.length; i++) {
      checkAge(parts[i].data);
      const plain = await decrypter.decrypt(new Uint8Array(parts[i].data));
      if (plain.length !== padme(meta[i].size)) throw Object.assign(new Error("attachment padding"), { status: 422 });
      const real = plain.subarray(0, meta[i].size);
      if (!plain.subarray(meta[i].size).every((b) => b === 0)) throw Object.assign(new Error("padding not zero"), { status: 422 });
      const sha = createHash("sha256").update(real).digest("hex");
      if (sha !== meta[i].sha256) throw Object.assign(new Error("attachment sha256"), { status: 422 });
      out.push({ name: meta[i].name, size: meta[i].size, sha256: sha, filename: parts[i].filename });
    }
    return out;
  }

  function checkPow(pow) {
    if (faults[0] === "pow-expired") {
      faults.shift();
      throw Object.assign(new Error("challenge expired"), { status: 400, code: "pow_expired" });
    }
    if (difficulty === 0) {
      if (pow !== undefined) throw Object.assign(new Error("pow not expected"), { status: 400, code: "bad_request" });
      return;
    }
    if (!pow || typeof pow.challenge !== "string" || !Number.isInteger(pow.nonce)) throw Object.assign(new Error("pow required"), { status: 400, code: "pow_required" });
    if (spent.has(pow.challenge)) throw Object.assign(new Error("pow spent"), { status: 400, code: "pow_spent" });
    if (!powCheck(pow.challenge, pow.nonce, difficulty)) throw Object.assign(new Error("pow invalid"), { status: 400, code: "pow_invalid" });
    spent.add(pow.challenge);
  }

  function strictKeys(obj, allowed) {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw Object.assign(new Error(`unknown field ${k}`), { status: 400 });
  }

  const routes = {
    "GET /api/v1/config": async () => [200, config],
    "GET /api/v1/pow": async () => [200, { challenge: randomBytes(24).toString("base64url"), difficulty, expires_at: Math.floor(Date.now() / 1000) + 600 }],
    "POST /api/v1/submissions": async (req, body) => {
      const parts = parseMultipart(body, req.headers["content-type"]);
      const names = parts.map((p) => p.name);
      if (names[0] !== "meta" || names[1] !== "report" || names.slice(2).some((n) => n !== "attachment")) throw Object.assign(new Error(`bad parts ${names}`), { status: 400 });
      const meta = JSON.parse(parts[0].data.toString("utf8"));
      strictKeys(meta, ["lookup", "reply_recipient", "pow"]);
      if (!/^[A-Za-z0-9_-]{43}$/.test(meta.lookup) || !/^age1[0-9a-z]{58}$/.test(meta.reply_recipient)) throw Object.assign(new Error("bad meta"), { status: 422 });
      checkPow(meta.pow);
      if (cases.has(meta.lookup)) throw Object.assign(new Error("exists"), { status: 409, code: "conflict" });
      const report = await openJson(parts[1].data, "wbs-report/1");
      strictKeys(report, ["format", "category", "title", "body", "details", "attachments", "reply_recipient", "contact", "thread_key"]);
      if (report.reply_recipient !== meta.reply_recipient) throw Object.assign(new Error("recipient mismatch"), { status: 422 });
      const attachments = await openAttachments(report.attachments, parts.slice(2));
      const received_on = today();
      cases.set(meta.lookup, {
        status: "received",
        received_on,
        history: [{ status: "received", on: received_on }],
        replies: [],
        followups: [],
        reply_recipient: meta.reply_recipient,
        report,
        attachments,
        reportFilename: parts[1].filename,
      });
      log.push({ kind: "submission", lookup: meta.lookup });
      if (faults[0] === "drop-after-store") {
        faults.shift();
        req.socket.destroy();
        return null;
      }
      return [201, { received_on }];
    },
    "POST /api/v1/status": async (req, body) => {
      const q = JSON.parse(body.toString("utf8"));
      strictKeys(q, ["lookup"]);
      const c = cases.get(q.lookup);
      if (!c) throw Object.assign(new Error("not found"), { status: 404, code: "not_found" });
      return [200, { status: c.status, received_on: c.received_on, history: c.history, replies: c.replies, followups: c.followups.length }];
    },
    "POST /api/v1/followups": async (req, body) => {
      const parts = parseMultipart(body, req.headers["content-type"]);
      const names = parts.map((p) => p.name);
      if (names[0] !== "meta" || names[1] !== "message" || names.slice(2).some((n) => n !== "attachment")) throw Object.assign(new Error(`bad parts ${names}`), { status: 400 });
      const meta = JSON.parse(parts[0].data.toString("utf8"));
      strictKeys(meta, ["lookup", "pow"]);
      checkPow(meta.pow);
      const c = cases.get(meta.lookup);
      if (!c) throw Object.assign(new Error("not found"), { status: 404, code: "not_found" });
      const doc = await openJson(parts[1].data, "wbs-followup/1");
      strictKeys(doc, ["format", "id", "body", "attachments", "auth"]);
      const attachments = await openAttachments(doc.attachments, parts.slice(2));
      c.followups.push({ doc, attachments });
      return [201, { received_on: today() }];
    },
    // Test hooks: what the inspectorate would do through the desk and the air gap.
    "POST /__mock/reply": async (req, body) => {
      const q = JSON.parse(body.toString("utf8"));
      const c = cases.get(q.lookup);
      if (!c) throw Object.assign(new Error("not found"), { status: 404 });
      if (q.body !== undefined) {
        const e = new Encrypter();
        e.addRecipient(c.reply_recipient);
        for (const r of recipients) e.addRecipient(r);
        // Authenticated as the inspectorate does (PROTOCOL.md §4.4) with the
        // thread key from the report, unless the hook is asked to forge.
        const reply = { format: "wbs-reply/1", id: randomBytes(16).toString("base64url"), body: q.body };
        if (q.status) reply.status = q.status;
        if (!q.forge && c.report.thread_key) reply.auth = replyAuth(Buffer.from(c.report.thread_key, "base64url"), c.reply_recipient, reply);
        const json = JSON.stringify(reply);
        const padded = json + " ".repeat(padme(Buffer.byteLength(json)) - Buffer.byteLength(json));
        const file = await e.encrypt(padded);
        c.replies.push({ id: randomBytes(8).toString("hex"), on: today(), age: Buffer.from(file).toString("base64") });
      }
      if (q.status) {
        c.status = q.status;
        c.history.push({ status: q.status, on: today() });
      }
      return [200, {}];
    },
    "GET /__mock/cases": async () => [200, Object.fromEntries(cases)],
    "POST /__mock/fault": async (req, body) => {
      faults.push(JSON.parse(body.toString("utf8")).mode);
      return [200, {}];
    },
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const key = `${req.method} ${url.pathname}`;
    try {
      if (routes[key]) {
        const answer = await routes[key](req, body);
        if (!answer) return;
        const [status, json] = answer;
        res.writeHead(status, { ...SECURITY, "Content-Type": "application/json", "Cache-Control": "no-store" });
        res.end(JSON.stringify(json));
        return;
      }
      let file = null;
      if (req.method === "GET" && PAGES[url.pathname]) file = PAGES[url.pathname];
      else if (req.method === "GET" && /^\/assets\/[\w.-]+$/.test(url.pathname)) {
        const name = url.pathname.slice("/assets/".length);
        if (!Object.values(PAGES).includes(name)) file = name;
      }
      if (file && existsSync(join(ASSETS, file))) {
        res.writeHead(200, { ...SECURITY, "Content-Type": TYPES[extname(file)] || "application/octet-stream" });
        res.end(readFileSync(join(ASSETS, file)));
        return;
      }
      throw Object.assign(new Error("not found"), { status: 404, code: "not_found" });
    } catch (e) {
      const status = e.status || 500;
      if (status >= 500 || process.env.MOCK_DEBUG) console.error(`${key}: ${status} ${e.message}`);
      res.writeHead(status, { ...SECURITY, "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify({ error: { code: e.code || (status === 404 ? "not_found" : "bad_request"), message: e.message } }));
    }
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { server, port: server.address().port, cases, config, identities, log };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] || 8080);
  const difficulty = Number(process.env.POW ?? 12);
  const { port: p } = await startMockServer({ port, difficulty });
  console.log(`mock WBS server on http://127.0.0.1:${p}/ (proof of work ${difficulty} bits)`);
}
