// Finding things: the search box and its results (posts, accounts,
// hashtags), hashtag timelines, and "who to follow".

import { api, session } from "./api.js";
import { h, announce, plural } from "./dom.js";
import { renderPost, pagedList, userRow, tagHref } from "./posts.js";

const KINDS = [
  ["posts", "Posts"],
  ["accounts", "Accounts"],
  ["hashtags", "Hashtags"],
];

/** Where a search for `q` among `kind` is shown. */
export const searchHref = (q, kind = "posts") => `#/search?${new URLSearchParams({ q, type: kind })}`;

/** The search box; submitting shows the results of `kind`. */
export function searchForm(q = "", kind = "posts") {
  const input = h("input", {
    type: "search",
    name: "q",
    value: q,
    maxlength: 100,
    required: true,
    autocomplete: "off",
    "aria-label": "Search",
    placeholder: "Search posts, @people, #tags",
  });
  const form = h("form", { class: "search-form", role: "search" }, input, h("button", { type: "submit", class: "primary", text: "Search" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) return input.focus();
    // A leading @ or # says what is looked for.
    const chosen = value.startsWith("@") ? "accounts" : value.startsWith("#") ? "hashtags" : kind;
    location.hash = searchHref(value, chosen);
  });
  return form;
}

function hashtagRow(tag) {
  return h(
    "div",
    { class: "tag-row" },
    h("a", { class: "tag", href: tagHref(tag.name), text: `#${tag.name}` }),
    h("span", { class: "muted", text: plural(tag.uses, "post") }),
  );
}

/** The results of a search, with a tab per kind. Returns the list (to stop). */
export function searchResults(q, kind) {
  if (!KINDS.some(([k]) => k === kind)) kind = "posts";
  const label = KINDS.find(([k]) => k === kind)[1];
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Search results" },
    KINDS.map(([k, text]) => h("a", { href: searchHref(q, k), "aria-current": k === kind ? "page" : null, text })),
  );
  const render = { posts: (p) => renderPost(p), accounts: userRow, hashtags: hashtagRow }[kind];
  const list = pagedList({
    url: `/search/${kind}/?q=${encodeURIComponent(q)}`,
    render,
    empty: `No ${label.toLowerCase()} match “${q}”.`,
    label: `${label} matching ${q}`,
  });
  return { el: h("div", {}, tabs, list.el), stop: list.stop };
}

/** Live posts carrying `tag`, newest first. */
export function tagTimeline(tag) {
  return pagedList({
    url: `/post/tag/${encodeURIComponent(tag)}/`,
    render: (p) => renderPost(p),
    empty: `No posts with #${tag} yet.`,
    label: `Posts with #${tag}`,
  });
}

function suggestionRow(s) {
  const row = userRow(s);
  const why = s.reason === "popular" ? plural(s.followers_count, "follower") : `Followed by ${plural(s.followed_by, "account")} you follow`;
  row.querySelector(".user-row-body").append(h("p", { class: "muted why", text: why }));
  const follow = h("button", { type: "button", class: "primary", text: "Follow" });
  follow.addEventListener("click", async () => {
    follow.disabled = true;
    try {
      await api(`/user/follow/${s.id}`, { method: "POST" });
      follow.textContent = "Following";
      follow.className = "secondary";
      if (session.user) session.user.following_count += 1;
      announce(`You follow @${s.username}.`);
    } catch (e) {
      follow.disabled = false;
      announce(e.message);
    }
  });
  row.append(follow);
  return row;
}

/** "Who to follow": filled once the suggestions arrive, hidden if there are none. */
export function suggestionsPanel() {
  const items = h("div", { class: "items" });
  const el = h("section", { class: "suggestions", "aria-labelledby": "suggestions-title", hidden: true },
    h("h2", { id: "suggestions-title", text: "Who to follow" }), items);
  api("/user/suggestions/?limit=5")
    .then(({ data }) => {
      items.append(...data.map(suggestionRow));
      el.hidden = !data.length;
    })
    .catch(() => {});
  return el;
}
