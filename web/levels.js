// Who may read a post: the composer's level picker and a post's level note.

import { h, nextId } from "./dom.js";

/** The post levels, as the API names them, with what the picker says. */
const LEVELS = [
  ["public", "Public"],
  ["unlisted", "Unlisted (not on the public feed)"],
  ["private", "Followers only"],
  ["direct", "Mentioned people only"],
];

/** The composer's level picker: a labelled select named `visibility`. */
export function levelPicker() {
  const id = nextId("visibility");
  const select = h(
    "select",
    { id, name: "visibility", class: "visibility" },
    LEVELS.map(([value, text]) => h("option", { value, text })),
  );
  return h("span", { class: "visibility-field" }, h("label", { for: id, class: "sr-only", text: "Who can see this" }), select);
}

/** A short note on a non-public post. */
export function levelBadge(post) {
  if (!post.visibility || post.visibility === "public") return null;
  const text = LEVELS.find(([v]) => v === post.visibility)?.[1].split(" (")[0] || post.visibility;
  return h("span", { class: "muted level", text: ` · ${text}` });
}
