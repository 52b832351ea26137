// The hub API from the browser: login, token refresh, JSON calls, Server-Sent Events.
// Tokens live in sessionStorage (per tab, gone when the tab closes).
const BASE = "/api/v1";
const KEY = "cityhub.tokens";

export class ApiError extends Error {
  /** `code` is the API's stable error code (translated by i18n.errorText as error.<code>). */
  constructor(status, message, code = null) { super(message); this.status = status; this.code = code; }
}

function tokens() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
}
function keep(pair) {
  if (pair) sessionStorage.setItem(KEY, JSON.stringify(pair)); else sessionStorage.removeItem(KEY);
}
export const signedIn = () => tokens() !== null;

export async function login(username, password) {
  const body = new URLSearchParams({ username, password });
  const r = await fetch(`${BASE}/auth/token`, { method: "POST", body });
  if (!r.ok) throw new ApiError(r.status, r.status === 401 ? "Wrong user or password" : `Login failed (${r.status})`,
    r.status === 401 ? "login_failed" : r.status === 429 ? "login_throttled" : "login_error");
  keep(await r.json());
}

export async function logout() {
  const t = tokens();
  keep(null);
  if (t) await fetch(`${BASE}/auth/logout`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: t.refresh_token }) }).catch(() => {});
}

let refreshing = null;
async function refresh() {
  const t = tokens();
  if (!t) return false;
  refreshing ??= fetch(`${BASE}/auth/refresh`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: t.refresh_token }) })
    .then(async (r) => { keep(r.ok ? await r.json() : null); return r.ok; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

/** fetch() with the access token; one refresh and retry on 401; signs out when that fails. */
export async function authFetch(path, init = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const t = tokens();
    if (!t) break;
    const headers = { ...(init.headers || {}), Authorization: `Bearer ${t.access_token}` };
    const r = await fetch(path.startsWith("/") ? path : `${BASE}/${path}`, { ...init, headers });
    if (r.status !== 401) return r;
    if (attempt === 0 && !(await refresh())) break;
  }
  keep(null);
  window.dispatchEvent(new Event("cityhub:signed-out"));
  throw new ApiError(401, "Signed out", "signed_out");
}

/** An error answer as an ApiError: its detail text and, when the API gives one, its code. */
export async function failure(r) {
  try {
    const j = await r.json();
    return new ApiError(r.status, typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail), j.code || null);
  } catch { return new ApiError(r.status, r.statusText); }
}

export async function api(path, { method = "GET", body, query } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined && one !== null && one !== "") q.append(k, one);
    }
    url += `?${q}`;
  }
  const init = { method };
  if (body !== undefined) { init.body = JSON.stringify(body); init.headers = { "Content-Type": "application/json" }; }
  const r = await authFetch(url, init);
  if (!r.ok) throw await failure(r);
  return r.status === 204 ? null : r.json();
}

/** Reads an SSE stream (fetch, so the token goes in a header) until `signal` aborts or the
 * server ends it (`event: end`). When a stream runs out (its `seconds`) or the connection
 * drops, it reconnects with Last-Event-ID (back-off on errors), so nothing is missed; the
 * server delivers at least once: dedupe by event id. Refusals (4xx) end it with an ApiError. */
export async function streamEvents(path, onEvent, signal) {
  let lastId = null;
  let failures = 0;
  for (;;) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const r = await authFetch(path, { signal, headers });
      if (!r.ok) throw await failure(r);
      failures = 0;
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let type = "message", data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith("event:")) type = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
            else if (line.startsWith("id:")) lastId = line.slice(3).trim();
          }
          if (!data) continue;
          if (type === "end") return onEvent(type, JSON.parse(data));
          onEvent(type, JSON.parse(data));
        }
      }
    } catch (e) {
      if (signal?.aborted || (e instanceof ApiError && e.status < 500)) throw e;
      failures++;
    }
    if (failures) await new Promise((r) => setTimeout(r, Math.min(30000, 500 * 2 ** failures)));
  }
}

/** A short-lived play token for one camera (audited by the hub). */
export function playToken(camera, protocols = ["webrtc", "snapshot", "clip"]) {
  return api(`${BASE}/cameras/${encodeURIComponent(camera)}/play`, { method: "POST", body: { protocols } });
}

export const v1 = (p) => `${BASE}/${p}`;
