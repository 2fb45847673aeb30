// DOM helpers. User data only ever becomes text nodes: there is no innerHTML
// anywhere in the client.

/**
 * Creates an element. props: `class`, `text`, `on` ({event: fn}), `hidden`,
 * anything else becomes an attribute (null/false skipped, true = "").
 * Children: nodes, strings (as text), arrays, null.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = neutral(v);
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "hidden") el.hidden = true;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  put(el, children);
  return el;
}

/** Appends children with h()'s rules (null skipped, strings as text). */
export function append(el, ...children) {
  return put(el, children);
}

function put(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) put(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(neutral(c)));
  }
}

// Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069):
// one in a post would reverse what follows it, the name beside it included
// ("gnp.exe" shown for "exe.png"). Text nodes never carry them; the
// direction of each piece of user text comes from its own letters instead
// (dir="auto" and unicode-bidi: isolate in the style sheet).
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** Text as it is shown: without bidi controls. */
export const neutral = (text) => String(text).replace(BIDI_CONTROLS, "");

let uid = 0;
/** A unique id for aria-describedby and label[for]. */
export const nextId = (p = "f") => `${p}-${++uid}`;

/** Speaks a message through the page's polite live region. */
export function announce(msg) {
  const region = document.getElementById("announce");
  region.textContent = "";
  // A fresh text node after a tick so repeated messages are read again.
  setTimeout(() => {
    region.textContent = msg;
  }, 50);
}

/** A labelled input (or textarea) with a slot for its error message. */
export function field({ label, name, type = "text", value = "", textarea = false, hint, ...attrs }) {
  const id = nextId(name);
  const errId = `${id}-err`;
  const hintId = hint ? `${id}-hint` : null;
  const input = textarea
    ? h("textarea", { id, name, rows: attrs.rows || 3, ...attrs })
    : h("input", { id, name, type, ...attrs });
  input.value = value ?? "";
  input.setAttribute("aria-describedby", [hintId, errId].filter(Boolean).join(" "));
  return h(
    "div",
    { class: "field" },
    h("label", { for: id, text: label }),
    input,
    hint ? h("p", { class: "hint", id: hintId, text: hint }) : null,
    h("p", { class: "error", id: errId, hidden: true }),
  );
}

/** Clears every error shown in a form. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".error")) {
    el.textContent = "";
    el.hidden = true;
  }
}

/**
 * Shows an API error where it belongs: 422 messages next to their fields
 * (aria-invalid, described by the message), the rest in the form's own slot.
 * 409 messages that name a field go to that field too.
 */
export function showError(form, err) {
  clearErrors(form);
  const general = [];
  const fields = { ...(err.fields || {}) };
  if (err.status === 409) {
    const named = Array.from(form.elements).find(
      (el) => el.name && new RegExp(`\\b${el.name}\\b`, "i").test(err.message),
    );
    if (named) fields[named.name] = err.message;
  }
  let first = null;
  for (const [name, msg] of Object.entries(fields)) {
    const input = name && form.elements.namedItem(name);
    if (!input || !input.id) {
      general.push(msg);
      continue;
    }
    input.setAttribute("aria-invalid", "true");
    const slot = document.getElementById(`${input.id}-err`);
    slot.textContent = msg;
    slot.hidden = false;
    first ??= input;
  }
  if (!Object.keys(fields).length) general.push(err.message);
  const slot = form.querySelector(".form-error");
  if (general.length && slot) {
    slot.textContent = general.join(" ");
    slot.hidden = false;
  }
  if (first) first.focus();
  if (err.status === 429 && err.retryAfter) holdSubmit(form, err.retryAfter);
}

/** Disables a form's submit button for the Retry-After seconds. */
function holdSubmit(form, seconds) {
  const button = form.querySelector("[type=submit]");
  if (!button) return;
  button.disabled = true;
  button.dataset.hold = "1";
  setTimeout(() => {
    delete button.dataset.hold;
    button.disabled = false;
  }, seconds * 1000);
}

/** A form-level error slot (role=alert), placed next to the submit button. */
export const formError = () => h("p", { class: "error form-error", role: "alert", hidden: true });

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A <time> element: relative for recent dates, with the full date as title. */
export function time(iso) {
  const d = new Date(iso);
  const secs = (d.getTime() - Date.now()) / 1000;
  const abs = Math.abs(secs);
  let text;
  if (abs < 45) text = "just now";
  else if (abs < 3600) text = rtf.format(Math.round(secs / 60), "minute");
  else if (abs < 86400) text = rtf.format(Math.round(secs / 3600), "hour");
  else if (abs < 7 * 86400) text = rtf.format(Math.round(secs / 86400), "day");
  else text = d.toLocaleDateString();
  return h("time", { datetime: iso, title: full.format(d), text });
}

/** Character count as the server counts it (Unicode scalar values, trimmed). */
export const charCount = (s) => [...s.trim()].length;

/** An avatar image (decorative: the name is always next to it) or an initial. */
// Avatars the page loads (the img-src policy allows https: only): https on a
// domain name whose last label is a name, never a local one. The server
// refuses the others; this also covers rows saved before it did.
const AVATAR_URL = /^https:\/\/(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z](?:[a-z0-9-]*[a-z0-9])?(?::\d{1,5})?(?:[/?#]|$)/i;
const LOCAL_HOST = /^https:\/\/(?:[^/?#:]*\.)?(?:localhost|local|localdomain|internal|lan|home\.arpa)(?:[:/?#]|$)/i;

export function avatar(user, size = "") {
  if (user.avatar && AVATAR_URL.test(user.avatar) && !LOCAL_HOST.test(user.avatar)) {
    return h("img", {
      class: `avatar ${size}`,
      src: user.avatar,
      alt: "",
      loading: "lazy",
      referrerpolicy: "no-referrer",
    });
  }
  return h("span", { class: `avatar initial ${size}`, "aria-hidden": "true", text: (user.username || "?")[0].toUpperCase() });
}

/** Plural helper: plural(3, "post") → "3 posts". */
export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
