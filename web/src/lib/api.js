// The HTTP API v1 (docs/PROTOCOL.md §7). Same origin only, no credentials.
// Uploads use XMLHttpRequest because fetch has no upload progress.

/** An API failure: `status` 0 means the network failed. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || "";
  }
}

function errorFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error) return new ApiError(status, String(body.error.code || ""), String(body.error.message || ""));
  } catch {
    /* not JSON: fall through */
  }
  return new ApiError(status, "", "");
}

async function request(path, init) {
  let res;
  try {
    res = await fetch(path, {
      ...init,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      redirect: "error",
    });
  } catch (e) {
    throw new ApiError(0, "network", String(e && e.message));
  }
  const text = await res.text();
  if (!res.ok) throw errorFrom(res.status, text);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(res.status, "bad_response", "");
  }
}

export function getConfig() {
  return request("/api/v1/config", { method: "GET" });
}

export function getPow() {
  return request("/api/v1/pow", { method: "GET" });
}

export function postStatus(lookup) {
  return request("/api/v1/status", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ lookup }),
  });
}

/**
 * POSTs multipart/form-data with upload progress.
 * @param {string} path
 * @param {FormData} form
 * @param {(loaded: number, total: number) => void} onProgress
 */
export function uploadForm(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = false;
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      const text = xhr.responseText;
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(text ? JSON.parse(text) : {});
        } catch {
          resolve({});
        }
      } else {
        reject(errorFrom(xhr.status, text));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", ""));
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => reject(new ApiError(0, "aborted", ""));
    xhr.send(form);
  });
}

/** Whether an error answer is about the proof of work (expired, spent or wrong). */
export function isPowError(err) {
  return err instanceof ApiError && (err.status === 400 || err.status === 422 || err.status === 403) && /pow|challenge/i.test(err.code);
}
