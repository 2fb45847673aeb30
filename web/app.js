// pamps web client: routes under #/…, the navigation, and the views.

import { api, session, resume, login, logout, loadMe, onSessionExpired, hasSession } from "./api.js";
import { h, append, field, formError, showError, clearErrors, announce, avatar, time, plural } from "./dom.js";
import { renderPost, composer, pagedList, userRow, updatePost, updateCounts, countsSeen, removePost, userHref, uploadPicture } from "./posts.js";
import { live, startLive, stopLive } from "./stream.js";
import { profileActions, privacySettings } from "./privacy.js";
import { moderationView, reportButton, leavingSection, isModerator } from "./moderation.js";
import { searchForm, searchResults, tagTimeline, suggestionsPanel } from "./search.js";
import { authorizeView, authorizedApps } from "./oauth.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let view = null;
let notificationsAvailable = true;
let unread = 0;
let badge = null;

const routes = [
  [/^\/$/, home],
  [/^\/public$/, publicFeed],
  [/^\/login$/, loginView],
  [/^\/signup$/, signupView],
  [/^\/post\/(\d+)$/, thread],
  [/^\/search$/, searchView],
  [/^\/tag\/([^/]+)$/, tagView],
  [/^\/user\/([^/]+)(?:\/(posts|replies|original|likes|followers|following))?$/, profile],
  [/^\/notifications$/, notifications],
  [/^\/bookmarks$/, bookmarks],
  [/^\/settings$/, settings],
  [/^\/moderation$/, moderation],
  [/^\/authorize$/, authorize],
];

function route() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const i = raw.indexOf("?");
  return i < 0 ? { path: raw, query: new URLSearchParams() } : { path: raw.slice(0, i), query: new URLSearchParams(raw.slice(i + 1)) };
}

const go = (path) => location.replace(`#${path}`);

function requireLogin() {
  const here = location.hash.slice(1) || "/";
  go(`/login?next=${encodeURIComponent(here)}`);
}

async function render({ focus = true } = {}) {
  const { path, query } = route();
  if (view) view.cleanup.forEach((fn) => fn());
  const ctx = { cleanup: [], query };
  ctx.alive = () => view === ctx;
  view = ctx;
  let fn = notFound;
  let args = [];
  for (const [re, f] of routes) {
    const m = re.exec(path);
    if (m) {
      fn = f;
      args = m.slice(1).map((a) => a && decodeURIComponent(a));
      break;
    }
  }
  const root = h("div", { class: "view" });
  main.replaceChildren(root);
  renderNav(path);
  const done = fn(root, ctx, ...args);
  if (focus) {
    window.scrollTo(0, 0);
    (root.querySelector("h1") || main).focus({ preventScroll: true });
  }
  try {
    await done;
  } catch (e) {
    if (!ctx.alive()) return;
    root.replaceChildren(
      h("h1", { tabindex: "-1", text: e.status === 404 ? "Not found" : "Something went wrong" }),
      h("p", { class: "notice", text: e.message }),
      h("p", {}, h("a", { href: "#/", text: "Back to the start" })),
    );
  }
}

function title(root, text) {
  document.title = `${text} · pamps`;
  const el = h("h1", { tabindex: "-1", text });
  append(root, el);
  return el;
}

// ---- navigation and the unread badge ---------------------------------------

function renderNav(path) {
  const link = (href, text, extra) => {
    const current = `#${path}` === href || (href !== "#/" && `#${path}`.startsWith(`${href}/`));
    return h("a", { href, "aria-current": current ? "page" : null }, text, extra || null);
  };
  const me = session.user;
  if (me) {
    badge = h("span", { class: "badge", hidden: !unread }, String(unread), h("span", { class: "sr-only", text: " unread" }));
    nav.replaceChildren(
      link("#/", "Home"),
      link("#/public", "Public"),
      link("#/search", "Search"),
      link("#/notifications", "Notifications", notificationsAvailable ? badge : null),
      link(userHref(me.username), "Profile"),
      link("#/bookmarks", "Bookmarks"),
      link("#/settings", "Settings"),
      isModerator() ? link("#/moderation", "Moderation") : null,
      h("button", { type: "button", class: "linkish", text: "Log out", on: { click: doLogout } }),
    );
  } else {
    badge = null;
    nav.replaceChildren(link("#/public", "Public"), link("#/search", "Search"), link("#/login", "Log in"), link("#/signup", "Sign up"));
  }
}

function setUnread(n) {
  unread = Math.max(0, n);
  if (!badge) return;
  badge.hidden = !unread;
  badge.firstChild.textContent = String(unread);
}

async function refreshUnread() {
  if (!session.user || !notificationsAvailable) return;
  try {
    const { data } = await api("/notifications/unread");
    const before = unread;
    setUnread(data.count);
    if (data.count > before) announce(`${plural(data.count, "unread notification")}`);
  } catch (e) {
    if (e.status === 404 || e.status === 405) {
      notificationsAvailable = false; // this server has no notifications yet
      renderNav(route().path);
    }
  }
}

let unreadTimer = null;
const refreshUnreadSoon = () => {
  clearTimeout(unreadTimer);
  unreadTimer = setTimeout(refreshUnread, 250);
};

// ---- session ----------------------------------------------------------------

function sessionStarted() {
  renderNav(route().path);
  refreshUnread();
  startLive();
}

async function doLogout() {
  stopLive();
  await logout();
  setUnread(0);
  announce("You are logged out.");
  location.hash = "#/public";
  renderNav(route().path);
}

onSessionExpired(() => {
  stopLive();
  setUnread(0);
  const here = location.hash.slice(1) || "/";
  const next = route().path === "/login" ? "/" : here;
  go(`/login?expired=1&next=${encodeURIComponent(next)}`);
});

// Another tab logged out (or in).
window.addEventListener("storage", (e) => {
  if (e.key !== "pamps.refresh") return;
  if (!e.newValue && session.user) {
    session.user = null;
    stopLive();
    render({ focus: false });
  } else if (e.newValue && !session.user) {
    resume().then((u) => u && (sessionStarted(), render({ focus: false })));
  }
});

// ---- live events -------------------------------------------------------------

// Public-stream posts only refresh what is shown; the home view takes home's.
live.addEventListener("post", (e) => e.detail.stream === "home" && view && view.onPost && view.onPost(e.detail.data));
live.addEventListener("repost", (e) => view && view.onRepost && view.onRepost(e.detail.data));
live.addEventListener("post.counts", (e) => updateCounts(e.detail.data));
live.addEventListener("post.update", (e) => updatePost(e.detail.data));
live.addEventListener("post.delete", (e) => {
  removePost(e.detail.data.id);
  if (view && view.onDelete) view.onDelete(e.detail.data.id);
});
live.addEventListener("notification", (e) => {
  if (view && view.onNotification) view.onNotification(e.detail.data);
  else refreshUnreadSoon();
});
live.addEventListener("reset", () => {
  // Too much was missed to replay: reload what is shown, over REST.
  refreshUnread();
  const typing = document.activeElement && /^(TEXTAREA|INPUT)$/.test(document.activeElement.tagName);
  if (view && view.live && !typing) render({ focus: false });
});

// ---- views -------------------------------------------------------------------

function home(root, ctx) {
  if (!session.user) return go("/public");
  title(root, "Home");
  ctx.live = true;
  const list = pagedList({
    url: "/user/timeline?include_own=true",
    render: (p) => renderPost(p),
    empty: "Your timeline is empty. Follow people from the public feed to see their posts here.",
    label: "Home timeline",
  });
  ctx.cleanup.push(list.stop);
  const pending = [];
  const more = h("button", { type: "button", class: "new-posts", hidden: true });
  more.addEventListener("click", () => {
    const nodes = pending.splice(0).map((p) => renderPost(p));
    for (const n of nodes) list.prepend(n);
    more.hidden = true;
    const first = nodes[nodes.length - 1];
    if (first) {
      first.setAttribute("tabindex", "-1");
      first.focus();
    }
  });
  const showPending = () => {
    more.hidden = !pending.length;
    more.textContent = `Show ${plural(pending.length, "new post")}`;
  };
  ctx.onPost = (p) => {
    if (list.has(p.id) || pending.some((x) => x.id === p.id)) return;
    if (p.user_id === session.user.id) return list.prepend(renderPost(p));
    pending.push(p);
    showPending();
    announce(`${plural(pending.length, "new post")}. Use the button at the top of the timeline to show them.`);
  };
  // A post reposted by several people shows once, under its latest reposter.
  ctx.onRepost = (p) => {
    if (list.has(p.id)) return;
    const i = pending.findIndex((x) => x.id === p.id);
    if (i >= 0) pending.splice(i, 1);
    pending.push(p);
    showPending();
    announce(`${plural(pending.length, "new post")}. Use the button at the top of the timeline to show them.`);
  };
  ctx.onDelete = (id) => {
    const i = pending.findIndex((x) => x.id === id);
    if (i >= 0) pending.splice(i, 1), showPending();
  };
  // Someone who follows nobody has an empty timeline: suggest whom to follow.
  const suggestions = session.user.following_count === 0 ? suggestionsPanel() : null;
  append(root, 
    suggestions,
    composer({
      label: "What’s happening?",
      draftKey: "home",
      withPictures: true,
      onDone: (p) => {
        if (!list.has(p.id)) list.prepend(renderPost(p));
        announce("Posted.");
      },
    }),
    more,
    list.el,
  );
}

function publicFeed(root, ctx) {
  title(root, "Public feed");
  if (!session.user) {
    append(root, 
      h(
        "p",
        { class: "intro" },
        "Everyone’s latest posts. ",
        h("a", { href: "#/signup", text: "Sign up" }),
        " or ",
        h("a", { href: "#/login", text: "log in" }),
        " to post, like, reply and follow.",
      ),
    );
  }
  const list = pagedList({ url: "/post/?order=desc", render: (p) => renderPost(p), empty: "No posts yet.", label: "Public posts" });
  ctx.cleanup.push(list.stop);
  append(root, list.el);
}

function searchView(root, ctx) {
  const q = (ctx.query.get("q") || "").trim();
  const kind = ctx.query.get("type") || "posts";
  title(root, q ? `Search: ${q}` : "Search");
  append(root, searchForm(q, kind));
  if (!q) return;
  const results = searchResults(q, kind);
  ctx.cleanup.push(results.stop);
  append(root, results.el);
}

function tagView(root, ctx, tag) {
  title(root, `#${tag}`);
  const list = tagTimeline(tag);
  ctx.cleanup.push(list.stop);
  append(root, list.el);
}

async function thread(root, ctx, id) {
  title(root, "Post");
  const { data: post } = await api(`/post/${id}/`);
  if (!ctx.alive()) return;
  ctx.live = true;
  let mainEl;
  let reply = null;
  const onDeleted = () => {
    const gone = h("p", { class: "notice", tabindex: "-1", text: "This post was deleted." });
    mainEl.replaceWith(gone);
    if (reply) reply.remove();
    if (mainEl.contains(document.activeElement) || document.activeElement === document.body) gone.focus();
  };
  mainEl = renderPost(post, { main: true, onDeleted });
  const replies = pagedList({
    url: `/post/${post.id}/replies/`,
    render: (p) => renderPost(p, { nested: true }),
    empty: "No replies yet.",
    label: "Replies",
  });
  ctx.cleanup.push(replies.stop);
  // Live counts are absolute: count a reply here only when none arrived since the last.
  let seen = countsSeen(mainEl);
  const addReply = (p) => {
    if (p.parent_id !== post.id || replies.has(p.id)) return;
    replies.append(renderPost(p, { nested: true }));
    if (countsSeen(mainEl) === seen) mainEl.post.reply_count += 1;
    seen = countsSeen(mainEl);
    updatePost({ id: post.id, reply_count: mainEl.post.reply_count });
  };
  ctx.onPost = addReply;
  if (session.user) {
    reply = composer({
      label: `Reply to @${post.username}`,
      draftKey: `reply.${post.id}`,
      parentId: post.id,
      submit: "Reply",
      onDone: (p) => {
        addReply(p);
        announce("Reply posted.");
      },
    });
  } else {
    reply = h("p", { class: "muted" }, h("a", { href: `#/login?next=${encodeURIComponent(`/post/${post.id}`)}`, text: "Log in" }), " to reply.");
  }
  append(root, 
    post.parent_id ? h("p", { class: "reply-to" }, h("a", { href: `#/post/${post.parent_id}`, text: "↑ The post this replies to" })) : null,
    mainEl,
    reply,
    h("h2", { text: "Replies" }),
    replies.el,
  );
}

async function profile(root, ctx, name, tab = "posts") {
  const heading = title(root, `@${name}`);
  const { data: user } = await api(`/user/${encodeURIComponent(name)}/`);
  if (!ctx.alive()) return;
  heading.textContent = `@${user.username}`;
  const me = session.user;
  const isMe = me && me.id === user.id;
  const followers = h("span", { text: plural(user.followers_count, "follower") });
  const base = userHref(user.username);
  const error = h("p", { class: "error", role: "alert", hidden: true });
  let follow = null;
  if (me && !isMe) {
    follow = h("button", { type: "button" });
    const show = () => {
      follow.textContent = user.following ? "Unfollow" : "Follow";
      follow.className = user.following ? "secondary" : "primary";
      followers.textContent = plural(user.followers_count, "follower");
    };
    show();
    follow.addEventListener("click", async () => {
      follow.disabled = true;
      try {
        if (user.following) {
          await api(`/user/follow/${user.id}`, { method: "DELETE" });
          user.following = false;
          user.followers_count = Math.max(0, user.followers_count - 1);
          announce(`You unfollowed @${user.username}.`);
        } else {
          const r = await api(`/user/follow/${user.id}`, { method: "POST" });
          user.following = true;
          if (r.status === 201) user.followers_count += 1;
          announce(`You follow @${user.username}.`);
        }
        error.hidden = true;
        show();
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      } finally {
        follow.disabled = false;
      }
    });
  } else if (!me) {
    follow = h("a", { class: "button primary", href: `#/login?next=${encodeURIComponent(base.slice(1))}`, text: "Log in to follow" });
  } else {
    follow = h("a", { class: "button secondary", href: "#/settings", text: "Edit profile" });
  }
  const reportRow = h("p", { class: "report-row" });
  if (me && !isMe) append(reportRow, reportButton({ username: user.username }, `@${user.username}`, () => reportRow));
  const card = h(
    "section",
    { class: "profile", "aria-label": "Profile" },
    h("div", { class: "profile-top" }, avatar(user, "big"), follow),
    me && !isMe ? profileActions(user, error, () => render()) : null,
    user.bio ? h("p", { class: "bio", dir: "auto", text: user.bio }) : null,
    h("p", { class: "muted" }, "Joined ", time(user.created_at)),
    h(
      "p",
      { class: "stats" },
      h("span", { text: plural(user.posts_count, "post") }),
      h("a", { href: `${base}/followers` }, followers),
      h("a", { href: `${base}/following`, text: `${user.following_count} following` }),
    ),
    reportRow,
    error,
  );
  // The Posts tab lists what posts_count counts: live posts and replies.
  const tabs = [
    ["posts", "Posts"],
    ["original", "Without replies"],
    ["likes", "Likes"],
    ["followers", "Followers"],
    ["following", "Following"],
  ];
  const u = encodeURIComponent(user.username);
  const lists = {
    posts: [`/post/user/${u}/?order=desc&include_replies=true`, "No posts yet."],
    replies: [`/post/user/${u}/?order=desc&include_replies=true`, "No posts yet."],
    original: [`/post/user/${u}/?order=desc`, "No posts yet."],
    likes: [`/post/likes/${u}/`, "No likes yet."],
    followers: [`/user/${u}/followers/`, "No followers yet."],
    following: [`/user/${u}/following/`, "Not following anyone yet."],
  };
  const [url, empty] = lists[tab];
  const isUsers = tab === "followers" || tab === "following";
  const list = pagedList({
    url,
    render: isUsers ? userRow : (p) => renderPost(p),
    empty,
    label: (tabs.find((t) => t[0] === tab) || tabs[0])[1],
  });
  ctx.cleanup.push(list.stop);
  append(root, 
    card,
    h(
      "nav",
      { class: "tabs", "aria-label": "Profile sections" },
      tabs.map(([t, label]) => h("a", { href: t === "posts" ? base : `${base}/${t}`, "aria-current": t === tab ? "page" : null, text: label })),
    ),
    list.el,
  );
}

const WHAT = { like: "liked your post", reply: "replied to your post", follow: "followed you", mention: "mentioned you", repost: "reposted your post" };

function renderNotification(n) {
  const target = n.post && (n.type === "reply" && n.post.parent_id ? n.post.parent_id : n.post.id);
  return h(
    "article",
    { class: n.read ? "notification" : "notification unread", "data-notification-id": n.id },
    avatar(n.actor),
    h(
      "div",
      { class: "notification-body" },
      h(
        "p",
        {},
        h("a", { class: "author", href: userHref(n.actor.username), text: `@${n.actor.username}` }),
        ` ${WHAT[n.type] || n.type} · `,
        time(n.created_at),
        n.read ? null : h("span", { class: "sr-only", text: " (new)" }),
      ),
      n.post ? h("p", { class: "snippet" }, h("a", { href: `#/post/${target}`, text: n.post.text })) : null,
    ),
  );
}

async function markRead(id) {
  try {
    await api("/notifications/read", { method: "POST", body: { up_to_id: id } });
  } catch {
    // the badge stays as it is; nothing to tell the user
  }
  refreshUnread();
}

function bookmarks(root, ctx) {
  if (!session.user) return requireLogin();
  title(root, "Bookmarks");
  const list = pagedList({ url: "/user/bookmarks/", render: (p) => renderPost(p), empty: "No bookmarks yet.", label: "Bookmarks" });
  ctx.cleanup.push(list.stop);
  append(root, list.el);
}

function notifications(root, ctx) {
  if (!session.user) return requireLogin();
  title(root, "Notifications");
  if (!notificationsAvailable) {
    append(root, h("p", { class: "notice", text: "Notifications are not available on this server yet." }));
    return;
  }
  ctx.live = true;
  let newest = null;
  const list = pagedList({
    url: "/notifications",
    render: renderNotification,
    empty: "No notifications yet.",
    label: "Notifications",
    onPage: (items) => {
      if (newest == null && items.length) {
        newest = items[0].id;
        markRead(newest);
      } else if (newest == null) setUnread(0);
    },
  });
  ctx.cleanup.push(list.stop);
  ctx.onNotification = (n) => {
    if (list.items.querySelector(`[data-notification-id="${CSS.escape(String(n.id))}"]`)) return;
    list.prepend(renderNotification(n));
    announce(`@${n.actor.username} ${WHAT[n.type] || n.type}`);
    newest = n.id;
    markRead(n.id);
  };
  append(root, list.el);
}

function formView(root, heading, fields, submit, onSubmit, extra) {
  if (heading) title(root, heading);
  const button = h("button", { type: "submit", class: "primary", text: submit });
  const form = h("form", { class: "card-form", novalidate: true }, fields, formError(), h("div", { class: "form-foot" }, button));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    button.disabled = true;
    try {
      await onSubmit(form);
    } catch (err) {
      showError(form, err);
    } finally {
      button.disabled = button.dataset.hold === "1"; // held after a 429 until Retry-After
    }
  });
  append(root, form, extra || null);
  return form;
}

function afterLogin(query) {
  sessionStarted();
  const next = query.get("next");
  go(next && next.startsWith("/") && !next.startsWith("/login") ? next : "/");
}

function loginView(root, ctx) {
  if (session.user && !ctx.query.get("expired")) return go("/");
  const notice = ctx.query.get("expired")
    ? h("p", { class: "notice", role: "status", text: "Your session has expired. Please log in again; anything you were writing is kept." })
    : null;
  if (notice) append(root, notice);
  formView(
    root,
    "Log in",
    [
      field({ label: "Username", name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true }),
      field({ label: "Password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    ],
    "Log in",
    async (form) => {
      await login(form.elements.username.value.trim(), form.elements.password.value);
      announce(`Logged in as @${session.user.username}.`);
      afterLogin(ctx.query);
    },
    h("p", { class: "muted" }, "New here? ", h("a", { href: "#/signup", text: "Create an account" })),
  );
  if (notice) root.prepend(root.querySelector("h1"));
}

function signupView(root, ctx) {
  if (session.user) return go("/");
  formView(
    root,
    "Sign up",
    [
      field({ label: "Email", name: "email", type: "email", autocomplete: "email", required: true }),
      field({
        label: "Username",
        name: "username",
        autocomplete: "username",
        autocapitalize: "none",
        spellcheck: "false",
        required: true,
        hint: "3 to 32 letters, digits or _, starting with a letter.",
      }),
      field({ label: "Password", name: "password", type: "password", autocomplete: "new-password", required: true, hint: "At least 8 characters." }),
    ],
    "Sign up",
    async (form) => {
      const body = {
        email: form.elements.email.value.trim(),
        username: form.elements.username.value.trim(),
        password: form.elements.password.value,
      };
      await api("/user/", { method: "POST", body, auth: "none" });
      await login(body.username, body.password);
      announce(`Welcome to pamps, @${session.user.username}!`);
      afterLogin(ctx.query);
    },
    h("p", { class: "muted" }, "Already have an account? ", h("a", { href: "#/login", text: "Log in" })),
  );
}

async function settings(root, ctx) {
  if (!session.user) return requireLogin();
  title(root, "Settings");
  const me = await loadMe();
  if (!ctx.alive()) return;
  const saved = h("p", { class: "ok", role: "status" });
  append(root, h("h2", { text: "Profile" }));
  formView(
    root,
    null,
    [
      field({ label: "Bio", name: "bio", textarea: true, rows: 3, value: me.bio || "", hint: "Up to 500 characters." }),
      field({ label: "Avatar URL", name: "avatar", type: "url", value: me.avatar || "", hint: "An http(s) link to an image; leave empty for none." }),
      field({ label: "Email", name: "email", type: "email", autocomplete: "email", value: me.email || "" }),
      saved,
    ],
    "Save profile",
    async (form) => {
      saved.textContent = "";
      const body = {};
      const bio = form.elements.bio.value.trim();
      const av = form.elements.avatar.value.trim();
      const email = form.elements.email.value.trim();
      if (bio !== (session.user.bio || "")) body.bio = bio || null;
      if (av !== (session.user.avatar || "")) body.avatar = av || null;
      if (email !== (session.user.email || "")) body.email = email;
      if (!Object.keys(body).length) {
        saved.textContent = "Nothing to save.";
        return;
      }
      session.user = (await api("/user/me/", { method: "PATCH", body })).data;
      saved.textContent = "Profile saved.";
    },
  );
  append(root, h("h2", { text: "Password" }));
  const done = h("p", { class: "ok", role: "status" });
  formView(
    root,
    null,
    [
      field({ label: "Current password", name: "current_password", type: "password", autocomplete: "current-password" }),
      field({ label: "New password", name: "new_password", type: "password", autocomplete: "new-password", hint: "At least 8 characters." }),
      done,
    ],
    "Change password",
    async (form) => {
      done.textContent = "";
      const current = form.elements.current_password.value;
      const next = form.elements.new_password.value;
      const change = () =>
        api("/user/me/password", { method: "POST", body: { current_password: current, new_password: next }, retry: false });
      try {
        await change();
      } catch (e) {
        if (e.status !== 401) throw e;
        if (/fresh/i.test(e.message)) {
          // Changing the password needs a token straight from a password
          // login: log in again with the password just re-entered, then retry.
          try {
            await login(session.user.username, current);
          } catch (le) {
            if (le.status === 401) throw Object.assign(le, { fields: { current_password: "The current password is not correct." } });
            throw le;
          }
          await change().catch((e2) => {
            throw e2.status === 401 ? Object.assign(e2, { fields: { current_password: e2.message } }) : e2;
          });
        } else throw Object.assign(e, { fields: { current_password: "The current password is not correct." } });
      }
      // Every refresh token was revoked: log in with the new password.
      await login(session.user.username, next);
      stopLive();
      startLive();
      form.reset();
      done.textContent = "Password changed.";
    },
  );
  append(root, ...privacySettings(ctx));
  append(root, h("h2", { text: "Pictures" }));
  for (const [kind, name] of [["avatar", "Avatar"], ["header", "Header"]]) {
    const status = h("p", { class: "ok", role: "status" });
    formView(
      root,
      null,
      [
        field({ label: `${name} picture`, name: "file", type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", hint: "A PNG, JPEG, GIF or WebP of up to 10 MiB." }),
        status,
      ],
      `Upload ${kind}`,
      async (form) => {
        status.textContent = "";
        const file = form.elements.file.files[0];
        if (!file) throw Object.assign(new Error("Choose a picture first."), { fields: { file: "Choose a picture first." } });
        session.user = await uploadPicture(file, "", `/user/me/${kind}/`);
        form.reset();
        status.textContent = `${name} updated.`;
      },
    );
  }
  authorizedApps(root);
  append(root, 
    h("h2", { text: "Session" }),
    h("p", {}, `Logged in as @${me.username}. `, h("button", { type: "button", class: "secondary", text: "Log out", on: { click: doLogout } })),
  );
  leavingSection(root, async () => {
    await doLogout();
    announce("Your account was deleted.");
  });
}

function authorize(root, ctx) {
  if (!session.user) return requireLogin();
  return authorizeView(root, ctx);
}

function moderation(root, ctx) {
  if (!session.user) return requireLogin();
  title(root, "Moderation");
  if (!isModerator()) return append(root, h("p", { class: "notice", text: "Moderators only." }));
  return moderationView(root, ctx);
}

function notFound(root) {
  title(root, "Page not found");
  append(root, h("p", {}, "There is nothing here. ", h("a", { href: "#/", text: "Go to the start" })));
}

// ---- start -------------------------------------------------------------------

document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", () => render());

(async () => {
  if (hasSession() && (await resume())) sessionStarted();
  render({ focus: false });
})();
