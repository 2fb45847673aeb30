// The HTTP client: JSON in and out, the session's tokens, and API errors.
//
// The access token lives only in this module's memory. The refresh token is
// kept in localStorage so a session survives a reload and is shared by tabs;
// refreshes are serialised across tabs with the Web Locks API and always
// re-read the stored token under the lock, so two tabs never present the same
// (already rotated) refresh token, which the server would treat as theft.

const RT_KEY = "pamps.refresh";
let access = null;
let accessUntil = 0;
let refreshing = null;
let expiredHandler = () => {};

/** The signed-in user (`GET /user/me/`), or null. */
export const session = { user: null };

/** An error answered by the API: status, message, 422 field messages, Retry-After. */
export class ApiError extends Error {
  constructor(status, body, headers) {
    // pamps' `detail`, or the Mastodon surface's `error_description` / `error`.
    const detail = body && (body.detail ?? body.error_description ?? body.error);
    super(typeof detail === "string" ? detail : describe(status));
    this.status = status;
    this.fields = {};
    if (Array.isArray(detail)) {
      for (const d of detail) {
        const loc = Array.isArray(d.loc) ? d.loc : [];
        const field = loc.length > 1 ? String(loc[loc.length - 1]) : "";
        if (!(field in this.fields)) this.fields[field] = d.msg || "Invalid value";
      }
    }
    const retry = headers ? parseInt(headers.get("Retry-After") || "", 10) : NaN;
    this.retryAfter = Number.isFinite(retry) ? retry : null;
    if (status === 429) {
      this.message = this.retryAfter != null
        ? `Too many requests. Try again in ${this.retryAfter} s.`
        : "Too many requests. Try again in a moment.";
    }
  }
}

function describe(status) {
  if (status === 422) return "Please correct the highlighted fields.";
  if (status >= 500) return "The server had a problem. Please try again.";
  if (status === 0) return "Network error: check your connection and try again.";
  return `Request failed (${status}).`;
}

/** Called (once per expiry) when the session can't be refreshed any more. */
export function onSessionExpired(fn) {
  expiredHandler = fn;
}

export function hasSession() {
  return !!localStorage.getItem(RT_KEY);
}

function store(pair) {
  access = pair.access_token;
  accessUntil = Date.now() + Math.max(0, (pair.expires_in || 60) - 20) * 1000;
  localStorage.setItem(RT_KEY, pair.refresh_token);
}

export function clearSession() {
  access = null;
  accessUntil = 0;
  session.user = null;
  localStorage.removeItem(RT_KEY);
}

function locked(fn) {
  return navigator.locks ? navigator.locks.request("pamps-refresh", fn) : fn();
}

/** Trades the stored refresh token for a new pair. Resolves false when the session is gone. */
export function refresh() {
  refreshing ??= locked(async () => {
    const token = localStorage.getItem(RT_KEY);
    if (!token) return false;
    const res = await fetch("/refresh_token", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    });
    if (!res.ok) {
      // Revoked or expired: forget it (the caller decides what the user sees).
      if (res.status === 401 && localStorage.getItem(RT_KEY) === token) localStorage.removeItem(RT_KEY);
      access = null;
      return res.status === 401 ? false : Promise.reject(new ApiError(res.status, null, res.headers));
    }
    store(await res.json());
    return true;
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function nextLink(headers) {
  const link = headers.get("Link");
  const m = link && /<([^>]+)>\s*;[^,]*rel="?next"?/.exec(link);
  if (!m) return null;
  const url = new URL(m[1], location.href);
  return url.pathname + url.search; // same origin, whatever host the server saw
}

/**
 * Calls the API. Options: method, body (JSON, or FormData sent as
 * multipart/form-data), auth ("none" to send no
 * token), retry (false: don't refresh and retry on 401).
 * Resolves {data, status, next}; rejects with ApiError.
 */
export async function api(path, { method = "GET", body, auth, retry = true } = {}) {
  const sendToken = auth !== "none";
  if (sendToken && hasSession() && (!access || Date.now() > accessUntil)) {
    const ok = await refresh().catch(() => true);
    if (!ok) sessionGone();
  }
  const go = () => {
    const headers = { Accept: "application/json" };
    const form = body instanceof FormData;
    if (body !== undefined && !form) headers["Content-Type"] = "application/json";
    if (sendToken && access) headers.Authorization = `Bearer ${access}`;
    return fetch(path, {
      method,
      headers,
      body: body === undefined || form ? body : JSON.stringify(body),
    }).catch(() => {
      throw new ApiError(0, null, null);
    });
  };
  let res = await go();
  if (res.status === 401 && sendToken && retry && (access || hasSession())) {
    access = null;
    if (await refresh().catch(() => false)) res = await go();
    else {
      sessionGone();
      throw new ApiError(401, { detail: "Your session has expired. Please log in again." });
    }
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data, res.headers);
  return { data, status: res.status, next: nextLink(res.headers) };
}

/** Ends a session that can't be refreshed: the app shows the login form. */
export function sessionGone() {
  const had = !!session.user;
  clearSession();
  if (had) expiredHandler();
}

/** Password login; stores the pair and loads the profile. */
export async function login(username, password) {
  const { data } = await api("/token", {
    method: "POST",
    body: { username, password },
    auth: "none",
  });
  store(data);
  await loadMe();
}

/** Resumes a stored session (after a reload). Resolves the user or null. */
export async function resume() {
  if (!hasSession()) return null;
  try {
    if (!(await refresh())) return null;
    await loadMe();
  } catch {
    return null;
  }
  return session.user;
}

export async function loadMe() {
  session.user = (await api("/user/me/")).data;
  return session.user;
}

export async function logout() {
  const token = localStorage.getItem(RT_KEY);
  clearSession();
  if (token) {
    await fetch("/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    }).catch(() => {});
  }
}

/** The current access token's `fresh` claim (straight from a password login). */
export function isFresh() {
  try {
    const part = access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part)).fresh === true;
  } catch {
    return false;
  }
}
