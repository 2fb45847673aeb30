// Mastodon apps: the consent page (#/authorize, where GET /oauth/authorize
// sends the browser) and the settings' list of authorized apps.

import { api, session } from "./api.js";
import { h, append, announce, time } from "./dom.js";

/** What each scope lets an app do, in words. */
const SCOPES = {
  read: "read your posts, timelines, notifications and account",
  write: "post, edit, delete, like, repost, bookmark and change your profile",
  follow: "follow, unfollow, block and mute accounts",
  push: "receive push notifications",
  profile: "see your profile",
};

function describe(scope) {
  if (SCOPES[scope]) return SCOPES[scope];
  const [kind, what] = scope.split(":");
  return `${kind === "read" ? "read" : "change"} your ${what.replace(/_/g, " ")}`;
}

/** The consent page: shows the app and its scopes; Authorize or Deny. */
export async function authorizeView(root, ctx) {
  const params = Object.fromEntries(ctx.query.entries());
  let details;
  try {
    details = (await api(`/oauth/consent?${ctx.query}`, { auth: "none" })).data;
  } catch (err) {
    append(root, h("h1", { tabindex: "-1", text: "Authorization failed" }), h("p", { class: "notice", role: "alert", text: err.message }));
    return;
  }
  if (!ctx.alive()) return;
  document.title = `Authorize ${details.app.name} · pamps`;
  const result = h("div", { id: "oauth-result", role: "status" });
  const answer = async (approve, button) => {
    button.disabled = true;
    try {
      const { data } = await api("/oauth/consent", { method: "POST", body: { ...params, approve } });
      if (data.redirect_uri) {
        announce(approve ? "Authorized. Returning to the app…" : "Denied. Returning to the app…");
        location.assign(data.redirect_uri);
        return;
      }
      buttons.hidden = true;
      if (data.code) {
        result.replaceChildren(
          h("p", {}, `Copy this code into ${details.app.name}:`),
          h("p", {}, h("code", { id: "oauth-code", class: "oauth-code", text: data.code })),
        );
      } else {
        result.replaceChildren(h("p", { text: `You denied ${details.app.name} access.` }));
      }
    } catch (err) {
      result.replaceChildren(h("p", { class: "notice", role: "alert", text: err.message }));
      button.disabled = false;
    }
  };
  const approve = h("button", { type: "button", id: "oauth-approve", class: "primary", text: "Authorize" });
  const deny = h("button", { type: "button", id: "oauth-deny", class: "secondary", text: "Deny" });
  approve.addEventListener("click", () => answer(true, approve));
  deny.addEventListener("click", () => answer(false, deny));
  const buttons = h("div", { class: "form-foot" }, approve, " ", deny);
  const website = details.app.website
    ? h("p", { class: "muted" }, "Website: ", h("span", { dir: "auto", text: details.app.website }))
    : null;
  append(
    root,
    h("h1", { tabindex: "-1", text: `Authorize ${details.app.name}` }),
    website,
    h("p", {}, h("strong", { dir: "auto", text: details.app.name }), ` wants to use your account @${session.user.username} to:`),
    h("ul", { id: "oauth-scopes" }, details.scopes.map((s) => h("li", { "data-scope": s, text: describe(s) }))),
    details.oob ? h("p", { class: "muted", text: "You will get a code to copy into the app." }) : null,
    buttons,
    result,
  );
}

/** The settings' "Authorized apps" section, with a Revoke button per token. */
export function authorizedApps(root) {
  const list = h("ul", { id: "authorized-apps", class: "plain" });
  const section = h("section", { "aria-labelledby": "apps-title" }, h("h2", { id: "apps-title", text: "Authorized apps" }), list);
  append(root, section);
  const load = async () => {
    const { data } = await api("/oauth/authorized_apps");
    list.replaceChildren();
    if (!data.length) append(list, h("li", { class: "muted", text: "No app uses your account." }));
    for (const token of data) {
      const revoke = h("button", { type: "button", class: "secondary", text: "Revoke" });
      revoke.addEventListener("click", async () => {
        revoke.disabled = true;
        await api(`/oauth/authorized_apps/${token.id}`, { method: "DELETE" });
        announce(`${token.app} can no longer use your account.`);
        await load();
      });
      append(
        list,
        h("li", { "data-token": token.id }, h("strong", { dir: "auto", text: token.app }), ` (${token.scopes}), authorized `, time(token.created_at), " ", revoke),
      );
    }
  };
  load().catch((err) => append(section, h("p", { class: "notice", text: err.message })));
}
