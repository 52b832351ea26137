// Users & roles (department admins): the department's users (roles, disable/enable, password
// reset, unlock after failed sign-ins) and its API keys (the secret shown once, revocation).
// The hub keeps every change durable and audited before it answers; the page shows its answer.
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, fmtTime, fromZoneInput, t } from "./i18n.js";

const USER_ROLES = ["admin", "operator", "analyst", "auditor", "supervisor"];
const KEY_ROLES = ["operator", "analyst", "auditor", "supervisor", "relay"];  // never admin
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const MIN_PASSWORD = 12;

const roleText = (roles) => roles.map((r) => t(`users.role.${r}`)).join(", ");
const ticked = (el, name) => [...el.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

function roleChecks(name, roles, picked = []) {
  return h("div.checks", { dataset: { name } }, roles.map((r) => h("label.inline",
    h("input", { type: "checkbox", name, value: r, checked: picked.includes(r) }), t(`users.role.${r}`))));
}

function table(id, keys) {
  const body = h("tbody");
  return { body, table: h("table.admintable", { id }, h("thead", h("tr", keys.map((k) => h("th", t(k))))), body) };
}

const emptyRow = (cols, key) => h("tr.empty", h("td", { colspan: cols }, h("span.muted", t(key))));

/** A form's submit: `read()` gives [body, problems]; with none, `send(body)`; an API error
 * is shown by its code translated, its detail beneath. */
function onSubmit(form, errors, read, send) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const [body, found] = read();
    errors.replaceChildren(...found.map((p) => h("li", p)));
    if (found.length) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await send(body);
      form.reset();
    } catch (err) {
      const text = errorText(err);
      errors.replaceChildren(h("li", text), err.message && err.message !== text ? h("li.muted", err.message) : null);
    } finally { button.disabled = false; }
  });
}

// --- users ------------------------------------------------------------------------------------

function resetBox(u, act) {
  const input = h("input", { type: "password", name: "new-password", autocomplete: "new-password",
    placeholder: t("users.form.password_hint") });
  const box = h("form.resetbox", { hidden: true, onsubmit: (e) => { e.preventDefault(); act.reset(u, input.value); } },
    input, h("button", { type: "submit" }, t("users.reset_set")),
    h("button.ghost", { type: "button", onclick: () => { box.hidden = true; input.value = ""; } }, t("users.reset_cancel")));
  const button = h("button.ghost.reset", { type: "button", onclick: () => { box.hidden = false; input.focus(); } }, t("users.reset"));
  return { box, button };
}

function userRow(u, me, act) {
  const self = u.username === me;
  const roles = roleChecks("roles", USER_ROLES, u.roles);
  if (self) roles.querySelector("input[value=admin]").disabled = true;  // an admin cannot lock themself out
  const save = h("button.ghost.save-roles", { type: "button", disabled: true,
    onclick: () => act.roles(u, ticked(roles, "roles")) }, t("users.save_roles"));
  roles.addEventListener("change", () => { save.disabled = sameSet(ticked(roles, "roles"), u.roles); });
  const state = u.disabled ? "disabled" : "active";
  const reset = resetBox(u, act);
  return h("tr", { dataset: { id: u.id, username: u.username, state, locked: String(Boolean(u.locked_until)) } },
    h("td.username", u.username, self ? h("span.muted", ` ${t("users.you")}`) : null),
    h("td", u.display_name),
    h("td.roles", roles, save),
    h("td.state", h(`span.badge.us-${state}`, t(`users.state.${state}`)),
      u.locked_until ? h("div", h("span.badge.us-locked", t("users.state.locked", { time: fmtTime(u.locked_until) }))) : null),
    h("td.useractions",
      h("button.ghost.toggle", { type: "button", disabled: self, onclick: () => act.disable(u, !u.disabled) },
        t(u.disabled ? "users.enable" : "users.disable")),
      reset.button,
      u.locked_until ? h("button.ghost.unlock", { type: "button", onclick: () => act.unlock(u) }, t("users.unlock")) : null,
      reset.box));
}

function userForm(onCreated) {
  const errors = h("ul.error.formerrors", { id: "user-errors", role: "alert" });
  const form = h("form.grantform", { id: "user-form", novalidate: true, autocomplete: "off" },
    h("h3", t("users.form.title")),
    h("label", t("users.col.username"), h("input", { name: "username", maxlength: 64, autocomplete: "off",
      placeholder: t("users.form.username_hint") })),
    h("label", t("users.col.name"), h("input", { name: "display_name", maxlength: 200 })),
    h("fieldset", h("legend", t("users.col.roles")), roleChecks("roles", USER_ROLES)),
    h("label", t("users.form.password"), h("input", { type: "password", name: "password", autocomplete: "new-password",
      placeholder: t("users.form.password_hint") })),
    errors,
    h("button", { type: "submit", id: "user-create" }, t("users.form.create")));
  const read = () => {
    const body = { username: form.username.value.trim(), roles: ticked(form, "roles"), password: form.password.value,
      display_name: form.display_name.value.trim() || undefined };
    const found = [];
    if (!USERNAME.test(body.username)) found.push(t("users.form.need_username"));
    if (!body.roles.length) found.push(t("users.form.need_role"));
    if (body.password.length < MIN_PASSWORD) found.push(t("users.form.need_password"));
    return [body, found];
  };
  onSubmit(form, errors, read, async (body) => {
    const user = await api(v1("users"), { method: "POST", body });
    toast(t("users.form.created", { user: user.username }));
    onCreated(user);
  });
  return form;
}

/** What the page does to a user, each answered by the hub's fresh row (or a toast on error). */
function userActions(replace) {
  const patch = async (u, body, done) => {
    try {
      const fresh = await api(v1(`users/${u.id}`), { method: "PATCH", body });
      replace(fresh);
      toast(t(done, { user: fresh.username }));
    } catch (err) { toast(errorText(err), "error"); }
  };
  return {
    roles: (u, roles) => patch(u, { roles }, "users.roles_saved"),
    disable: (u, off) => {
      if (off && !window.confirm(t("users.disable_confirm", { user: u.username }))) return null;
      return patch(u, { disabled: off }, off ? "users.disabled_done" : "users.enabled_done");
    },
    reset: (u, password) => (password.length < MIN_PASSWORD ? toast(t("users.form.need_password"), "error")
      : patch(u, { password }, "users.reset_done")),
    unlock: async (u) => {
      try {
        await api(v1(`users/${u.id}/unlock`), { method: "POST" });
        replace({ ...u, locked_until: null });
        toast(t("users.unlocked", { user: u.username }));
      } catch (err) { toast(errorText(err), "error"); }
    },
  };
}

// --- API keys ---------------------------------------------------------------------------------

function keyState(k, now = Date.now()) {
  if (k.revoked_at) return "revoked";
  return k.expires_at && Date.parse(k.expires_at) <= now ? "expired" : "active";
}

function keyRow(k, onRevoke) {
  const state = keyState(k);
  return h("tr", { dataset: { id: k.id, state } },
    h("td", k.name), h("td.mono", k.id), h("td", roleText(k.roles)), h("td", k.created_by),
    h("td", fmtTime(k.created_at)), h("td", k.expires_at ? fmtTime(k.expires_at) : t("users.key.no_expiry")),
    h("td", k.last_used_at ? fmtTime(k.last_used_at) : t("users.key.never")),
    h("td", h(`span.badge.gs-${state}`, t(`users.key.state.${state}`))),
    h("td", state === "active" ? h("button.ghost.revoke", { type: "button", onclick: () => onRevoke(k) }, t("users.key.revoke")) : null));
}

/** The new key's secret, shown this once: a copy button and the warning that it is gone after. */
function secretBox(key) {
  const value = h("input.secret", { id: "key-secret", readonly: true, value: key.key, autocomplete: "off" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(key.key);
    } catch {
      value.select();
      if (!document.execCommand("copy")) return toast(t("users.key.copy_failed"), "error");
    }
    return toast(t("users.key.copied"));
  };
  const box = h("div.keysecret", { id: "key-secret-box", role: "alert" },
    h("h3", t("users.key.secret_title", { name: key.name })),
    h("p.warning", t("users.key.secret_warning")),
    h("div.secretline", value, h("button", { type: "button", id: "key-copy", onclick: copy }, t("users.key.copy"))),
    h("button.ghost", { type: "button", id: "key-secret-done", onclick: () => box.remove() }, t("users.key.done")));
  return box;
}

function keyForm(onCreated) {
  const errors = h("ul.error.formerrors", { id: "key-errors", role: "alert" });
  const form = h("form.grantform", { id: "key-form", novalidate: true, autocomplete: "off" },
    h("h3", t("users.key.form_title")),
    h("label", t("users.key.name"), h("input", { name: "name", maxlength: 200, autocomplete: "off" })),
    h("fieldset", h("legend", t("users.col.roles")), roleChecks("roles", KEY_ROLES)),
    h("label", t("users.key.expires"), h("input", { type: "datetime-local", name: "expires_at" })),
    h("p.muted", t("users.key.expires_hint")),
    errors,
    h("button", { type: "submit", id: "key-create" }, t("users.key.create")));
  const read = () => {
    const expires = form.expires_at.value ? fromZoneInput(form.expires_at.value) : null;
    const body = { name: form.elements.name.value.trim(), roles: ticked(form, "roles"),
      expires_at: expires ? expires.toISOString() : undefined };
    const found = [];
    if (!body.name) found.push(t("users.key.need_name"));
    if (!body.roles.length) found.push(t("users.form.need_role"));
    if (expires && expires.getTime() <= Date.now()) found.push(t("users.key.expiry_past"));
    return [body, found];
  };
  onSubmit(form, errors, read, async (body) => {
    const key = await api(v1("api-keys"), { method: "POST", body });
    toast(t("users.key.created_toast", { name: key.name }));
    onCreated(key);
  });
  return form;
}

// --- the page ---------------------------------------------------------------------------------

export async function usersPage(root, ctx) {
  const [users, keys] = await Promise.all([api(v1("users")), api(v1("api-keys"))]);
  const me = ctx.me.name;
  const people = table("users-table", ["users.col.username", "users.col.name", "users.col.roles",
    "users.col.state", "users.col.actions"]);
  const act = userActions((u) => people.body.querySelector(`tr[data-id="${u.id}"]`)?.replaceWith(userRow(u, me, act)));
  people.body.replaceChildren(...(users.length ? users.map((u) => userRow(u, me, act)) : [emptyRow(5, "users.none")]));

  const keyTable = table("keys-table", ["users.key.name", "users.key.id", "users.col.roles", "users.key.created_by",
    "users.key.created", "users.key.expires", "users.key.last_used", "users.col.state", "users.col.actions"]);
  const revoke = async (k) => {
    if (!window.confirm(t("users.key.revoke_confirm", { name: k.name }))) return;
    try {
      await api(v1(`api-keys/${k.id}`), { method: "DELETE" });
      keyTable.body.querySelector(`tr[data-id="${k.id}"]`)?.replaceWith(keyRow({ ...k, revoked_at: new Date().toISOString() }, revoke));
      toast(t("users.key.revoked", { name: k.name }));
    } catch (err) { toast(errorText(err), "error"); }
  };
  keyTable.body.replaceChildren(...(keys.length ? keys.map((k) => keyRow(k, revoke)) : [emptyRow(9, "users.key.none")]));

  const secretSlot = h("div", { id: "key-secret-slot" });
  const side = h("aside.adminside",
    userForm((u) => { people.body.querySelector("tr.empty")?.remove(); people.body.append(userRow(u, me, act)); }),
    h("hr"), secretSlot,
    keyForm((k) => {
      keyTable.body.querySelector("tr.empty")?.remove();
      keyTable.body.append(keyRow(k, revoke));
      secretSlot.replaceChildren(secretBox(k));
    }));
  root.replaceChildren(h("div.adminpage.users",
    h("section.admintables",
      h("h2", t("users.title.users")), h("div.tablewrap", people.table),
      h("h2", t("users.title.keys")), h("div.tablewrap", keyTable.table)),
    side));
}
