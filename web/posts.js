// Posts, the composer, and paged lists.

import { api, session } from "./api.js";
import { reportButton } from "./moderation.js";
import { h, append, field, formError, showError, clearErrors, time, charCount, avatar, announce, plural, nextId } from "./dom.js";
import { levelPicker, levelBadge } from "./levels.js";

export const MAX_CHARS = 280;

/** Sends the visitor to the login form, coming back here afterwards. */
export function needLogin() {
  const here = location.hash.slice(1) || "/";
  location.hash = `#/login?next=${encodeURIComponent(here)}`;
}

export const userHref = (name) => `#/user/${encodeURIComponent(name)}`;

// SQL mention_names() (migrations/0002) decides who is notified; this is its
// copy: `@` and a username not preceded by a word character or `@`, not
// followed by a word character. tests/api/username_rule.rs holds them equal.
const MENTION = /(?<![A-Za-z0-9_@])@([A-Za-z][A-Za-z0-9_]{2,31})(?![A-Za-z0-9_])/g;
// The hashtag rule, as validation::HASHTAG_PATTERN states it (SQL
// post_hashtags() in migrations/0009 is the other copy): `#` not preceded by
// a word character or `#`, then letters, digits and `_`, not only ASCII
// digits and `_`. tests/api/hashtag_rule.rs holds the three equal.
const HASHTAG = /(?<![\p{Alphabetic}\p{N}_#])#(?![0-9_]*(?![\p{Alphabetic}\p{N}_]))([\p{Alphabetic}\p{N}_]+)/gu;

/** The hashtag timeline of a tag. */
export const tagHref = (tag) => `#/tag/${encodeURIComponent(tag.toLowerCase())}`;

/** Post text as text nodes, with @mentions as profile links and #tags as tag links. */
function richText(text) {
  const links = [
    ...[...text.matchAll(MENTION)].map((m) => [m, userHref(m[1])]),
    ...[...text.matchAll(HASHTAG)].map((m) => [m, tagHref(m[1])]),
  ].sort((a, b) => a[0].index - b[0].index);
  const out = [];
  let last = 0;
  for (const [m, href] of links) {
    out.push(text.slice(last, m.index), h("a", { href, text: m[0] }));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/** A post's pictures: thumbnails with their alt text, linking to the full size. */
function pictures(media) {
  if (!media || !media.length) return null;
  return h(
    "div",
    { class: `pictures n${media.length}` },
    media.map((m) =>
      h(
        "a",
        { href: m.url, target: "_blank", rel: "noopener", class: "picture" },
        h("img", {
          src: m.preview_url,
          alt: m.description || "",
          title: m.description || null,
          loading: "lazy",
          width: m.meta.small.width,
          height: m.meta.small.height,
        }),
      ),
    ),
  );
}

/** Uploads one picture with its alt text; the attachment. */
export async function uploadPicture(file, description, path = "/media/") {
  const body = new FormData();
  body.append("description", description);
  body.append("file", file);
  return (await api(path, { method: "POST", body })).data;
}

/**
 * A post as an <article>. opts: main (the thread's post), onDeleted(post).
 * The article keeps its post in `el.post` so live updates can refresh it.
 */
export function renderPost(post, opts = {}) {
  const el = h("article", { class: opts.main ? "post main-post" : "post", "data-post-id": post.id });
  el.opts = opts;
  fill(el, post);
  return el;
}

function fill(el, post) {
  const opts = el.opts;
  el.post = post;
  const own = session.user && session.user.id === post.user_id;
  const authorId = nextId("author");
  el.setAttribute("aria-labelledby", authorId);
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const likeCount = h("span", { class: "count", text: post.like_count });
  const like = h(
    "button",
    { type: "button", class: "act like", "aria-pressed": post.liked ? "true" : "false" },
    "Like",
    likeCount,
  );
  const actions = h(
    "div",
    { class: "actions" },
    h(
      "a",
      { class: "act reply", href: `#/post/${post.id}`, "aria-label": `Reply (${plural(post.reply_count, "reply")})` },
      "Reply",
      h("span", { class: "count", text: post.reply_count }),
    ),
    like,
    toggle(el, { cls: "repost", label: "Repost", field: "reposted", count: "repost_count", path: "repost" }),
    toggle(el, { cls: "bookmark", label: "Bookmark", field: "bookmarked", path: "bookmark" }),
    own ? h("button", { type: "button", class: "act edit", text: "Edit" }) : null,
    own ? h("button", { type: "button", class: "act delete", text: "Delete" }) : null,
    session.user && !own ? reportButton({ post_ids: [post.id] }, `post by @${post.username}`, () => actions) : null,
  );
  const text = h("p", { class: "text", dir: "auto" }, richText(post.text));
  el.replaceChildren();
  append(
    el,
    post.reposted_by
      ? h("p", { class: "reposted-by" }, "Reposted by ", h("a", { href: userHref(post.reposted_by), text: `@${post.reposted_by}` }))
      : null,
    h(
      "header",
      { class: "post-head" },
      avatar(post),
      h("a", { class: "author", id: authorId, href: userHref(post.username), text: `@${post.username}` }),
      h("a", { class: "when", href: `#/post/${post.id}` }, time(post.date), h("span", { class: "sr-only", text: ", open thread" })),
      post.edited_at ? h("span", { class: "edited", text: "edited" }) : null,
      levelBadge(post),
    ),
    post.parent_id && !opts.main && !opts.nested
      ? h("p", { class: "reply-to" }, h("a", { href: `#/post/${post.parent_id}`, text: "In reply to a post" }))
      : null,
    text,
    pictures(post.media),
    actions,
    error,
  );

  const fail = (e) => {
    error.textContent = e.message;
    error.hidden = false;
  };
  const ok = () => {
    error.hidden = true;
  };

  like.addEventListener("click", async () => {
    if (!session.user) return needLogin();
    like.disabled = true;
    const p = el.post;
    const seen = countsSeen(el);
    try {
      if (p.liked) {
        await api(`/post/${p.id}/like/`, { method: "DELETE" });
        p.liked = false;
        if (countsSeen(el) === seen) p.like_count = Math.max(0, p.like_count - 1);
      } else {
        const r = await api(`/post/${p.id}/like/`, { method: "POST" });
        p.liked = true;
        if (r.status === 201 && countsSeen(el) === seen) p.like_count += 1;
      }
      like.setAttribute("aria-pressed", String(p.liked));
      likeCount.textContent = p.like_count;
      ok();
    } catch (e) {
      fail(e);
    } finally {
      like.disabled = false;
    }
  });

  if (!own) return;
  const editBtn = actions.querySelector(".edit");
  const delBtn = actions.querySelector(".delete");

  editBtn.addEventListener("click", () => {
    const form = composer({
      label: "Edit post",
      value: el.post.text,
      submit: "Save",
      send: (body) => api(`/post/${el.post.id}/`, { method: "PATCH", body: { text: body.text } }),
      onDone: (updated) => {
        fill(el, { ...el.post, ...updated });
        el.querySelector(".edit").focus();
        announce("Post updated");
      },
      onCancel: () => {
        form.replaceWith(text);
        actions.hidden = false;
        editBtn.focus();
      },
    });
    text.replaceWith(form);
    actions.hidden = true;
    form.querySelector("textarea").focus();
  });

  delBtn.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "act danger", text: "Yes, delete" });
    const no = h("button", { type: "button", class: "act", text: "Cancel" });
    const confirm = h("div", { class: "actions confirm", role: "group", "aria-label": "Confirm delete" },
      h("span", { text: "Delete this post?" }), yes, no);
    actions.replaceWith(confirm);
    yes.focus();
    no.addEventListener("click", () => {
      confirm.replaceWith(actions);
      delBtn.focus();
    });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api(`/post/${el.post.id}/`, { method: "DELETE" });
        announce("Post deleted");
        if (opts.onDeleted) opts.onDeleted(el.post);
        else removePost(el.post.id);
      } catch (e) {
        yes.disabled = false;
        fail(e);
      }
    });
  });
}

/** Refreshes every shown copy of a post (a live edit), keeping viewer fields. */
export function updatePost(post) {
  for (const el of document.querySelectorAll(`article[data-post-id="${CSS.escape(String(post.id))}"]`)) {
    if (el.querySelector("form")) continue; // being edited here: don't clobber
    const had = el.contains(document.activeElement);
    const merged = { ...el.post, ...post };
    for (const k of VIEWER_FIELDS) if (!(k in post) && k in el.post) merged[k] = el.post[k];
    fill(el, merged);
    if (had) el.querySelector(".like").focus();
  }
}

// Fields of a post that are the viewer's own, absent from live payloads.
const VIEWER_FIELDS = ["liked", "reposted", "bookmarked", "reposted_by"];

/**
 * A repost or bookmark button (aria-pressed), with its count when `count`
 * names one: POST to set, DELETE to undo `/post/{id}/{path}/`.
 */
function toggle(el, { cls, label, field, count, path }) {
  const n = count ? h("span", { class: "count", text: el.post[count] }) : null;
  const b = h("button", { type: "button", class: `act ${cls}`, "aria-pressed": el.post[field] ? "true" : "false" }, label, n);
  b.addEventListener("click", async () => {
    if (!session.user) return needLogin();
    const error = el.querySelector(":scope > .error");
    b.disabled = true;
    const p = el.post;
    const seen = countsSeen(el);
    try {
      if (p[field]) {
        await api(`/post/${p.id}/${path}/`, { method: "DELETE" });
        p[field] = false;
        if (count && countsSeen(el) === seen) p[count] = Math.max(0, p[count] - 1);
      } else {
        const r = await api(`/post/${p.id}/${path}/`, { method: "POST" });
        p[field] = true;
        if (count && r.status === 201 && countsSeen(el) === seen) p[count] += 1;
      }
      b.setAttribute("aria-pressed", String(p[field]));
      if (n) n.textContent = p[count];
      announce(p[field] ? `${label}ed.` : `${label} removed.`);
      error.hidden = true;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/**
 * How many live counts a shown post has received. The server's counts are
 * absolute: a click adjusts its count itself only when none arrived while
 * its request ran (one that did already includes the click, or will be
 * followed by one that does).
 */
export const countsSeen = (el) => el.countsSeen || 0;

/** Shows a post's new like, reply and repost counts (a live `post.counts`) wherever it is shown. */
export function updateCounts(counts) {
  for (const el of document.querySelectorAll(`article[data-post-id="${CSS.escape(String(counts.id))}"]`)) {
    el.countsSeen = countsSeen(el) + 1;
    Object.assign(el.post, counts);
    for (const [cls, key] of [["like", "like_count"], ["reply", "reply_count"], ["repost", "repost_count"]]) {
      const n = el.querySelector(`:scope > .actions .${cls} .count`);
      if (n) n.textContent = counts[key];
    }
    const reply = el.querySelector(":scope > .actions .reply");
    if (reply) reply.setAttribute("aria-label", `Reply (${plural(counts.reply_count, "reply")})`);
  }
}

/** Removes every shown copy of a (deleted) post. */
export function removePost(id) {
  for (const el of document.querySelectorAll(`article[data-post-id="${CSS.escape(String(id))}"]`)) {
    if (el.opts.onDeleted) el.opts.onDeleted(el.post);
    else el.remove();
  }
}

/**
 * A post form with a live character counter. opts: label, value, draftKey
 * (kept in sessionStorage while typing, so an expired session loses
 * nothing), submit, send(body) → Promise<{data}>, onDone(post), onCancel.
 */
export function composer({ label, value = "", draftKey, submit = "Post", send, onDone, onCancel, parentId, withPictures }) {
  const key = draftKey && `pamps.draft.${draftKey}`;
  const f = field({ label, name: "text", textarea: true, rows: 3, value: (key && sessionStorage.getItem(key)) || value });
  const ta = f.querySelector("textarea");
  const n = h("span", { class: "n" });
  const counter = h("span", { class: "counter", id: nextId("count") }, n, h("span", { class: "sr-only", text: " characters left" }));
  ta.setAttribute("aria-describedby", `${counter.id} ${ta.getAttribute("aria-describedby")}`);
  const button = h("button", { type: "submit", class: "primary", text: submit });
  const picker = withPictures ? picturePicker() : null;
  const form = h(
    "form",
    { class: "composer", novalidate: true },
    f,
    picker && picker.el,
    h(
      "div",
      { class: "composer-foot" },
      counter,
      send ? null : levelPicker(),
      onCancel ? h("button", { type: "button", class: "ghost", text: "Cancel", on: { click: onCancel } }) : null,
      button,
    ),
    formError(),
  );
  const update = () => {
    const left = MAX_CHARS - charCount(ta.value);
    n.textContent = left;
    counter.classList.toggle("near", left <= 20 && left >= 0);
    counter.classList.toggle("over", left < 0);
    button.disabled = left < 0 || charCount(ta.value) === 0;
  };
  ta.addEventListener("input", () => {
    update();
    if (key) {
      if (ta.value) sessionStorage.setItem(key, ta.value);
      else sessionStorage.removeItem(key);
    }
  });
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (!button.disabled) form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (button.disabled) return;
    clearErrors(form);
    button.disabled = true;
    const body = { text: ta.value };
    if (parentId != null) body.parent_id = parentId;
    if (form.elements.visibility) body.visibility = form.elements.visibility.value;
    try {
      if (picker) body.media_ids = await picker.upload();
      const { data } = await (send ? send(body) : api("/post/", { method: "POST", body }));
      if (key) sessionStorage.removeItem(key);
      if (picker) picker.clear();
      ta.value = "";
      update();
      onDone && onDone(data);
    } catch (err) {
      update();
      showError(form, err);
    }
  });
  update();
  return form;
}

const MAX_PICTURES = 4;

/**
 * The composer's pictures: a file input (PNG, JPEG, GIF, WebP; up to 4) and
 * an alt text field for each chosen file. upload() sends them in order and
 * resolves their ids; a picture already uploaded is not sent twice.
 */
function picturePicker() {
  const input = h("input", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", multiple: true, class: "sr-only", id: nextId("pics") });
  const list = h("ul", { class: "picked" });
  let picked = [];
  const render = () => {
    list.replaceChildren(
      ...picked.map((p, i) => {
        const alt = h("input", { type: "text", maxlength: 1500, value: p.alt, "aria-label": `Alt text for ${p.file.name}`, placeholder: "Describe this picture (alt text)" });
        alt.addEventListener("input", () => {
          p.alt = alt.value;
          p.id = null;
        });
        const remove = h("button", { type: "button", class: "ghost", text: "Remove", "aria-label": `Remove ${p.file.name}` });
        remove.addEventListener("click", () => {
          picked.splice(i, 1);
          render();
        });
        return h("li", {}, h("span", { class: "file", text: p.file.name }), alt, remove);
      }),
    );
    label.hidden = picked.length >= MAX_PICTURES;
  };
  input.addEventListener("change", () => {
    for (const file of input.files) if (picked.length < MAX_PICTURES) picked.push({ file, alt: "", id: null });
    input.value = "";
    render();
  });
  const label = h("label", { class: "button secondary add-pictures", for: input.id, text: "Add pictures" });
  return {
    el: h("div", { class: "picker" }, input, label, list),
    async upload() {
      for (const p of picked) if (p.id == null) p.id = (await uploadPicture(p.file, p.alt.trim())).id;
      return picked.map((p) => p.id);
    },
    clear() {
      picked = [];
      render();
    },
  };
}

/**
 * A list that follows the API's `Link: rel="next"` pages: loads more when
 * its "Load more" button scrolls into view, or when it is pressed.
 */
export function pagedList({ url, render, empty, label, onPage }) {
  const items = h("div", { class: "items" });
  const more = h("button", { type: "button", class: "more", text: "Load more", hidden: true });
  const status = h("p", { class: "muted list-status", role: "status" });
  const el = h("section", { class: "list", "aria-label": label }, items, status, more);
  let next = url;
  let loading = false;
  const io = new IntersectionObserver((es) => es.some((x) => x.isIntersecting) && load(), { rootMargin: "300px" });

  const refreshStatus = () => {
    if (!loading) status.textContent = items.childElementCount ? "" : empty;
  };

  async function load() {
    if (!next || loading) return;
    loading = true;
    more.disabled = true;
    el.setAttribute("aria-busy", "true");
    status.textContent = items.childElementCount ? "Loading more…" : "Loading…";
    try {
      const r = await api(next);
      next = r.next;
      for (const item of r.data) {
        const node = render(item);
        const id = node && node.dataset.postId;
        if (id && items.querySelector(`[data-post-id="${CSS.escape(id)}"]`)) continue;
        if (node) items.append(node);
      }
      loading = false;
      refreshStatus();
      if (onPage) onPage(r.data);
    } catch (e) {
      loading = false;
      status.textContent = e.message;
    } finally {
      more.disabled = false;
      el.removeAttribute("aria-busy");
      more.hidden = !next;
      if (next && el.isConnected) {
        // Re-observing reports the current intersection: keeps filling a tall screen.
        io.unobserve(more);
        io.observe(more);
      }
    }
  }
  more.addEventListener("click", load);
  io.observe(more);
  load();
  return {
    el,
    items,
    prepend(node) {
      items.prepend(node);
      refreshStatus();
    },
    append(node) {
      items.append(node);
      refreshStatus();
    },
    has: (id) => !!items.querySelector(`[data-post-id="${CSS.escape(String(id))}"]`),
    refreshStatus,
    stop: () => io.disconnect(),
  };
}

/** A user in a followers/following list. */
export function userRow(user) {
  return h(
    "div",
    { class: "user-row" },
    avatar(user),
    h(
      "div",
      { class: "user-row-body" },
      h("a", { class: "author", href: userHref(user.username), text: `@${user.username}` }),
      user.bio ? h("p", { class: "bio", dir: "auto", text: user.bio }) : null,
    ),
  );
}
