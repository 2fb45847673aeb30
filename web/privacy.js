// Blocks and mutes: a profile's Block / Mute buttons and the lists in Settings.

import { api } from "./api.js";
import { h, announce } from "./dom.js";
import { pagedList, userRow } from "./posts.js";

/**
 * Block and Mute toggles for a profile seen by someone logged in; `onBlock`
 * runs after a block or unblock (the profile's follow state changed).
 */
export function profileActions(user, error, onBlock) {
  const toggle = (key, verbs, path) => {
    const b = h("button", { type: "button", class: `secondary ${key}` });
    const show = () => (b.textContent = user[key] ? verbs[1] : verbs[0]);
    show();
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await api(`/user/${encodeURIComponent(user.username)}/${path}/`, { method: user[key] ? "DELETE" : "POST" });
        user[key] = !user[key];
        announce(`${user[key] ? verbs[0] : verbs[1]}: @${user.username}.`);
        error.hidden = true;
        show();
        if (key === "blocking") onBlock();
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      } finally {
        b.disabled = false;
      }
    });
    return b;
  };
  return h(
    "span",
    { class: "privacy-actions" },
    toggle("muting", ["Mute", "Unmute"], "mute"),
    toggle("blocking", ["Block", "Unblock"], "block"),
    user.blocked_by ? h("span", { class: "muted", text: "This account blocks you." }) : null,
  );
}

/** Settings: the accounts I block and mute, each with its undo button. */
export function privacySettings(ctx) {
  const section = (title, url, path, undo, empty) => {
    const list = pagedList({
      url,
      label: title,
      empty,
      render: (u) => {
        const row = userRow(u);
        const b = h("button", { type: "button", class: "secondary", text: undo });
        b.addEventListener("click", async () => {
          b.disabled = true;
          await api(`/user/${encodeURIComponent(u.username)}/${path}/`, { method: "DELETE" });
          row.remove();
          announce(`${undo}ed @${u.username}.`);
        });
        row.append(b);
        return row;
      },
    });
    ctx.cleanup.push(list.stop);
    return [h("h2", { text: title }), list.el];
  };
  return [
    ...section("Blocked accounts", "/user/blocks/", "block", "Unblock", "You block nobody."),
    ...section("Muted accounts", "/user/mutes/", "mute", "Unmute", "You mute nobody."),
  ];
}
