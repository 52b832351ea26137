// Sharing (admins): the grants this department gives and receives, a form to share a scope
// of what it owns with another department, and revocation (at once, audited by the hub).
// Grants an incident's dispatch made are marked with its number and end with the assignment.
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, fmtTime, fromZoneInput, kindText, t, zoneInput } from "./i18n.js";

const RESOURCES = ["video", "events", "readings", "playback", "ptz"];
const DIMENSIONS = ["cameras", "sites", "sensors", "systems", "kinds"];
const YEAR_MS = 366 * 86400e3;

/** active / scheduled / expired / revoked, as of now. */
function grantState(g, now = Date.now()) {
  if (g.revoked_at) return "revoked";
  if (Date.parse(g.expires_at) <= now) return "expired";
  if (g.starts_at && Date.parse(g.starts_at) > now) return "scheduled";
  return "active";
}

function scopeText(g) {
  const parts = DIMENSIONS.filter((d) => g[d]).map((d) => `${t(`admin.grant.${d}`)}: ${(d === "kinds" ? g[d].map(kindText) : g[d]).join(", ")}`);
  if (g.event_ids) parts.push(t("admin.grant.event_ids", { n: g.event_ids.length }));
  return parts.length ? parts.join(" · ") : t("admin.grant.everything");
}

function windowText(g) {
  if (!g.resources.includes("playback")) return "";
  if (!g.playback_from && !g.playback_to) return t("admin.grant.any_time");
  return `${fmtTime(g.playback_from) || "…"} – ${fmtTime(g.playback_to) || "…"}`;
}

/** The grant's recent uses (who played which camera, when) in a row under `row`; again: gone. */
async function toggleUses(g, row) {
  const open = row.nextElementSibling?.matches(`tr.uses[data-for="${g.id}"]`) && row.nextElementSibling;
  if (open) return open.remove();
  const cell = h("td", { colSpan: row.children.length }, h("span.muted", t("admin.uses.loading")));
  const line = h("tr.uses", { dataset: { for: g.id } }, cell);
  row.after(line);
  try {
    const uses = await api(v1(`grants/${g.id}/uses`));
    cell.replaceChildren(uses.length ? h("table.uses", h("tbody", uses.map((u) => h("tr.use", { dataset: { camera: u.camera || "" } },
      h("td", fmtTime(u.at)), h("td", u.actor.replace(/^user:/, "")), h("td", u.camera || ""),
      h("td", t(u.action === "video.playback.authorize" ? "admin.uses.playback" : "admin.uses.live")))))) : h("span.muted", t("admin.uses.none")));
    line.dataset.count = String(uses.length);
  } catch (err) { cell.replaceChildren(h("span.error", errorText(err))); }
}

function grantRow(g, given, onRevoke) {
  const state = grantState(g);
  const incident = g.incident_id
    ? h("span.badge.incident", { dataset: { incident: g.incident_number ?? "" } },
      g.incident_number ? t("admin.grant.incident", { number: g.incident_number }) : t("admin.grant.incident_unknown"))
    : null;
  let action = null;
  if (given && !g.revoked_at && state !== "expired") {
    action = g.incident_id ? h("span.muted", t("admin.grant.ends_with_incident"))
      : h("button.ghost.revoke", { onclick: () => onRevoke(g) }, t("admin.grant.revoke"));
  }
  const row = h("tr", { dataset: { id: g.id, state } },
    h("td", given ? g.grantee : g.grantor),
    h("td.resources", g.resources.map((r) => t(`admin.resource.${r}`)).join(", ")),
    h("td.scope", { title: scopeText(g) }, scopeText(g)),
    h("td", windowText(g)),
    h("td.purpose", { title: g.purpose }, incident, incident ? " " : null, g.purpose),
    h("td", fmtTime(g.starts_at || g.created_at)),
    h("td", fmtTime(g.expires_at)),
    h("td", h(`span.badge.gs-${state}`, t(`admin.state.${state}`)),
      g.revoked_at ? h("div.muted", `${fmtTime(g.revoked_at)} · ${g.revoked_by || ""}`) : null),
    h("td", h("button.ghost.uses-toggle", { type: "button", onclick: () => toggleUses(g, row) }, t("admin.uses.show"))),
    given ? h("td", action) : null);
  return row;
}

function grantTable(id, given) {
  const keys = [given ? "admin.grant.grantee" : "admin.grant.grantor", "admin.grant.resources", "admin.grant.scope",
    "admin.grant.window", "admin.grant.purpose", "admin.grant.starts", "admin.grant.expires", "admin.grant.state",
    "admin.uses.title"];
  if (given) keys.push("admin.grant.action");
  const body = h("tbody");
  return { body, table: h("table.admintable", { id }, h("thead", h("tr", keys.map((k) => h("th", t(k))))), body) };
}

/** Checkboxes named `name`, one per item (value id, label name). */
function checks(name, items) {
  return h("div.checks", { dataset: { name } }, items.map((it) =>
    h("label.inline", h("input", { type: "checkbox", name, value: it.id }), it.label)));
}

/** Problems with the form's grant, in the user's language (empty: fine to send). */
function problems(body, now = Date.now()) {
  const out = [];
  if (!body.grantee) out.push(t("admin.form.need_grantee"));
  if (!body.resources.length) out.push(t("admin.form.need_resource"));
  if (body.purpose.length < 3) out.push(t("admin.form.need_purpose"));
  const expires = Date.parse(body.expires_at);
  if (Number.isNaN(expires) || expires <= now) out.push(t("admin.form.expiry_past"));
  else if (expires - now > YEAR_MS) out.push(t("admin.form.expiry_far"));
  if (body.playback_from && body.playback_to && Date.parse(body.playback_from) >= Date.parse(body.playback_to)) {
    out.push(t("admin.form.window_order"));
  }
  return out;
}

function grantForm(ctx, departments, cameras, sites, onCreated) {
  const me = ctx.me.department;
  const errors = h("ul.error.formerrors", { id: "grant-errors", role: "alert" });
  const from = h("input", { type: "datetime-local", name: "playback_from" });
  const to = h("input", { type: "datetime-local", name: "playback_to" });
  const windowBox = h("fieldset.playwindow", { hidden: true }, h("legend", t("admin.grant.window")),
    h("label", t("admin.form.window_from"), from), h("label", t("admin.form.window_to"), to),
    h("p.muted", t("admin.form.window_hint")));
  const resources = checks("resources", RESOURCES.map((r) => ({ id: r, label: t(`admin.resource.${r}`) })));
  resources.addEventListener("change", () => {
    windowBox.hidden = !resources.querySelector("input[value=playback]").checked;
  });
  const form = h("form.grantform", { id: "grant-form", novalidate: true },
    h("h3", t("admin.form.title")),
    h("label", t("admin.grant.grantee"), h("select", { name: "grantee" }, h("option", { value: "" }, "—"),
      departments.filter((d) => d.id !== me).map((d) => h("option", { value: d.id }, d.name)))),
    h("fieldset", h("legend", t("admin.grant.resources")), resources),
    h("fieldset", h("legend", t("admin.grant.cameras")),
      checks("cameras", cameras.filter((c) => c.department === me).map((c) => ({ id: c.id, label: `${c.name} (${c.id})` }))),
      h("p.muted", t("admin.form.none_all"))),
    h("fieldset", h("legend", t("admin.grant.sites")),
      checks("sites", sites.filter((s) => s.department === me).map((s) => ({ id: s.id, label: s.name }))),
      h("p.muted", t("admin.form.none_all"))),
    windowBox,
    h("label", t("admin.grant.expires"), h("input", { type: "datetime-local", name: "expires_at", value: zoneInput(new Date(Date.now() + 7 * 86400e3)) })),
    h("label", t("admin.grant.purpose"), h("input", { name: "purpose", maxlength: 200, placeholder: t("admin.form.purpose_hint") })),
    errors,
    h("button", { type: "submit", id: "grant-create" }, t("admin.form.create")));
  const picked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
  const instant = (input) => (input.value ? fromZoneInput(input.value).toISOString() : null);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      grantee: form.grantee.value, resources: picked("resources"), purpose: form.purpose.value.trim(),
      expires_at: form.expires_at.value ? fromZoneInput(form.expires_at.value).toISOString() : "",
    };
    const cams = picked("cameras"), places = picked("sites");
    if (cams.length) body.cameras = cams;
    if (places.length) body.sites = places;
    if (body.resources.includes("playback")) {
      body.playback_from = instant(from);
      body.playback_to = instant(to);
    }
    const found = problems(body);
    errors.replaceChildren(...found.map((p) => h("li", p)));
    if (found.length) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const grant = await api(v1("grants"), { method: "POST", body });
      form.purpose.value = "";
      for (const box of form.querySelectorAll("input[type=checkbox]")) box.checked = false;
      windowBox.hidden = true;
      toast(t("admin.form.created", { grantee: grant.grantee }));
      onCreated(grant);
    } catch (err) {
      const text = errorText(err);
      errors.replaceChildren(h("li", text), err.message && err.message !== text ? h("li.muted", err.message) : null);
    } finally { button.disabled = false; }
  });
  return form;
}

export async function sharingPage(root, ctx) {
  const [departments, cameras, sites, grants] = await Promise.all([
    api(v1("departments")), api(v1("cameras")), api(v1("sites")), api(v1("grants"))]);
  const me = ctx.me.department;
  const given = grantTable("grants-given", true);
  const received = grantTable("grants-received", false);
  const revoke = async (g) => {
    if (!window.confirm(t("admin.grant.revoke_confirm", { grantee: g.grantee, purpose: g.purpose }))) return;
    try {
      const done = await api(v1(`grants/${g.id}/revoke`), { method: "POST" });
      given.body.querySelector(`tr[data-id="${g.id}"]`)?.replaceWith(grantRow(done, true, revoke));
      toast(t("admin.grant.revoked"));
    } catch (err) { toast(errorText(err), "error"); }
  };
  const fill = (table, rows, isGiven) => table.body.replaceChildren(...(rows.length
    ? rows.map((g) => grantRow(g, isGiven, revoke))
    : [h("tr.empty", h("td", { colspan: 10 }, h("span.muted", t("admin.grant.none"))))]));
  fill(given, grants.filter((g) => g.grantor === me), true);
  fill(received, grants.filter((g) => g.grantee === me), false);
  const form = grantForm(ctx, departments, cameras, sites, (grant) => {
    given.body.querySelector("tr.empty")?.remove();
    given.body.prepend(grantRow(grant, true, revoke));
  });
  root.replaceChildren(h("div.adminpage.sharing",
    h("section.admintables",
      h("h2", t("admin.sharing.given")), h("div.tablewrap", given.table),
      h("h2", t("admin.sharing.received")), h("div.tablewrap", received.table)),
    h("aside.adminside", form)));
}
