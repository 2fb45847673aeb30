// Reports (everyone), the moderators' queue, and leaving (export, delete).

import { api, session } from "./api.js";
import { h, append, field, formError, showError, clearErrors, announce, time } from "./dom.js";

/** Whether the signed-in account may moderate. */
export const isModerator = () => !!session.user && ["moderator", "admin"].includes(session.user.role);

/**
 * A "Report" button; clicking it opens a reason form after `after()` (the
 * element to insert it after). target: {username} or {post_ids}.
 */
export function reportButton(target, what, after) {
  const btn = h("button", { type: "button", class: "act report", text: "Report", "aria-label": `Report ${what}` });
  btn.addEventListener("click", () => {
    const anchor = after();
    if (anchor.nextElementSibling && anchor.nextElementSibling.classList.contains("report-form")) return;
    const send = h("button", { type: "submit", class: "primary", text: "Send report" });
    const cancel = h("button", { type: "button", class: "secondary", text: "Cancel" });
    const form = h(
      "form",
      { class: "card-form report-form", novalidate: true, "aria-label": `Report ${what}` },
      field({ label: "Why are you reporting this?", name: "reason", textarea: true, rows: 2, maxlength: 1000 }),
      formError(),
      h("div", { class: "form-foot" }, send, cancel),
    );
    cancel.addEventListener("click", () => {
      form.remove();
      btn.focus();
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(form);
      send.disabled = true;
      try {
        await api("/report/", { method: "POST", body: { ...target, reason: form.elements.reason.value } });
        form.replaceWith(h("p", { class: "ok", role: "status", text: "Report sent. Thank you." }));
        announce("Report sent.");
      } catch (err) {
        showError(form, err);
        send.disabled = false;
      }
    });
    anchor.after(form);
    form.elements.reason.focus();
  });
  return btn;
}

/** The report queue: each report with resolve, delete-post and suspend buttons. */
export async function moderationView(root, ctx) {
  const list = h("ol", { class: "reports", "aria-label": "Open reports" });
  const status = h("p", { class: "muted", role: "status" });
  append(root, status, list);
  const { data } = await api("/moderation/reports/?limit=100");
  if (!ctx.alive()) return;
  status.textContent = data.length ? `${data.length} open report${data.length === 1 ? "" : "s"}` : "No open reports.";
  list.replaceChildren(...data.map((r) => reportItem(r)));
}

function reportItem(r) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const item = h("li", { class: "report", "data-report-id": r.id });
  const act = (label, run) =>
    h("button", {
      type: "button",
      class: "secondary",
      text: label,
      on: {
        click: async (e) => {
          e.target.disabled = true;
          try {
            await run();
            error.hidden = true;
          } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
            e.target.disabled = false;
          }
        },
      },
    });
  const user = encodeURIComponent(r.target_username);
  const suspended = h("span", { class: "muted", text: r.target_suspended ? " (suspended)" : "" });
  const buttons = [
    act("Resolve", async () => {
      await api(`/moderation/reports/${r.id}/resolve/`, { method: "POST", body: {} });
      item.replaceWith(h("li", { class: "report done", role: "status", text: `Report ${r.id} resolved.` }));
      announce("Report resolved.");
    }),
    act(r.target_suspended ? "Unsuspend" : `Suspend @${r.target_username}`, async () => {
      const verb = r.target_suspended ? "unsuspend" : "suspend";
      await api(`/moderation/user/${user}/${verb}/`, { method: "POST", body: {} });
      r.target_suspended = !r.target_suspended;
      suspended.textContent = r.target_suspended ? " (suspended)" : "";
      announce(`@${r.target_username} ${r.target_suspended ? "suspended" : "reinstated"}.`);
    }),
    ...r.post_ids.map((id) =>
      act(`Delete post ${id}`, async () => {
        await api(`/moderation/post/${id}/`, { method: "DELETE" });
        announce(`Post ${id} deleted.`);
      }),
    ),
  ];
  append(
    item,
    h(
      "p",
      {},
      h("a", { href: `#/user/${user}`, text: `@${r.target_username}` }),
      suspended,
      ` reported by ${r.reporter ? `@${r.reporter}` : "a deleted account"} `,
      time(r.created_at),
    ),
    h("p", { class: "reason", dir: "auto", text: r.reason }),
    r.post_ids.length ? h("p", {}, "Posts: ", ...r.post_ids.map((id) => h("a", { href: `#/post/${id}`, text: `#${id} ` }))) : null,
    h("div", { class: "actions" }, buttons),
    error,
  );
  return item;
}

/** Settings' "Your data" section: download the archive, delete the account. */
export function leavingSection(root, onDeleted) {
  const saved = h("p", { class: "ok", role: "status" });
  const download = h("button", { type: "button", class: "secondary", text: "Download my data" });
  download.addEventListener("click", async () => {
    download.disabled = true;
    try {
      // Through api() for the token; the archive is JSON.
      const { data } = await api("/user/export/");
      const url = URL.createObjectURL(new Blob([JSON.stringify(data)], { type: "application/json" }));
      const a = h("a", { href: url, download: "pamps-archive.json" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      saved.textContent = "Your archive is downloading.";
    } catch (err) {
      saved.textContent = err.message;
    } finally {
      download.disabled = false;
    }
  });
  append(root, h("h2", { text: "Your data" }), h("p", {}, download), saved);
  const button = h("button", { type: "submit", class: "danger", text: "Delete my account" });
  const form = h(
    "form",
    { class: "card-form", novalidate: true, "aria-label": "Delete account" },
    h("p", { text: "Deleting your account erases your profile, likes and follows, and removes your posts. It cannot be undone." }),
    field({ label: "Password", name: "password", type: "password", autocomplete: "current-password" }),
    formError(),
    h("div", { class: "form-foot" }, button),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    button.disabled = true;
    try {
      await api("/user/", { method: "DELETE", body: { password: form.elements.password.value }, retry: false });
      await onDeleted();
    } catch (err) {
      showError(form, err.status === 401 ? Object.assign(err, { fields: { password: "The password is not correct." } }) : err);
      button.disabled = false;
    }
  });
  append(root, form);
}
