// The live stream: one WebSocket for the `home`, `notifications` and `public`
// streams (public: new counts and edits of any shown post, not only followees').
//
// A one-time ticket (POST /stream/ticket) authenticates the socket, since
// browsers can't set headers on it and access tokens never go in URLs.
// Reconnects with backoff and `since=<last event id>`, so nothing is missed.
// When the server has no stream (404), the client simply has no live updates.

import { api, refresh, sessionGone } from "./api.js";

/**
 * Dispatches "post", "post.update", "post.delete", "notification", "repost",
 * "post.counts", "reset" and "state".
 */
export const live = new EventTarget();

let socket = null;
let running = false;
let unavailable = false;
let lastId = null;
let attempt = 0;
let timer = null;

function setState(state) {
  document.documentElement.dataset.live = state;
  live.dispatchEvent(new CustomEvent("state", { detail: state }));
}

export function startLive() {
  if (running || unavailable) return;
  running = true;
  attempt = 0;
  connect();
}

export function stopLive() {
  running = false;
  lastId = null;
  clearTimeout(timer);
  if (socket) {
    const s = socket;
    socket = null;
    s.close(1000);
  }
  setState(unavailable ? "unavailable" : "off");
}

function retry() {
  if (!running) return;
  const delay = Math.min(30000, 1000 * 2 ** attempt++) * (0.5 + Math.random() / 2);
  setState("reconnecting");
  clearTimeout(timer);
  timer = setTimeout(connect, delay);
}

async function connect() {
  if (!running || socket) return;
  let ticket;
  try {
    ticket = (await api("/stream/ticket", { method: "POST" })).data.ticket;
  } catch (e) {
    if (e.status === 404 || e.status === 405 || e.status === 501) {
      unavailable = true; // this server has no live stream: stay quiet
      running = false;
      setState("unavailable");
    } else if (e.status === 401) {
      running = false; // session gone; the app shows the login form
      setState("off");
    } else retry();
    return;
  }
  if (!running || socket) return;
  const q = new URLSearchParams({ ticket, streams: "home,notifications,public" });
  if (lastId != null) q.set("since", lastId);
  const s = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/stream?${q}`);
  socket = s;
  s.onopen = () => {
    attempt = 0;
    setState("live");
  };
  s.onmessage = (m) => {
    let msg;
    try {
      msg = JSON.parse(m.data);
    } catch {
      return;
    }
    if (msg.error) {
      console.warn("pamps stream:", msg.error);
      return;
    }
    // A reset (the resume point is gone) carries no id: start afresh, since
    // the app reloads its lists over REST.
    lastId = msg.id != null ? msg.id : msg.event === "reset" ? null : lastId;
    if (msg.event) live.dispatchEvent(new CustomEvent(msg.event, { detail: msg }));
  };
  s.onclose = async (e) => {
    if (socket !== s) return; // closed on purpose
    socket = null;
    if (!running) return;
    if (e.code === 4001) {
      // The access token behind the socket expired: refresh, then resume.
      setState("reconnecting");
      const ok = await refresh().catch(() => true);
      if (ok) connect();
      else {
        stopLive();
        sessionGone();
      }
    } else if (e.code === 4008) {
      connect(); // too slow: resume right away from the last event seen
    } else if (e.code === 4003) {
      // The session behind the socket ended (logout, password change): a
      // reconnect would only spend it again. A new session starts live anew.
      running = false;
      setState("off");
    } else retry();
  };
}
