// Audit (auditors, admins): the department's audit log newest first, filtered by action
// prefix, actor and time, with the hash chain's verification; and the "Views" tab, the view
// sessions on the department's cameras (who watched what, and why the hub ended a view).
// A day's signed chain head (daily root) downloads as a file to keep off the hub.
import { api, authFetch, failure, v1 } from "./api.js";
import { download, h, toast } from "./dom.js";
import { errorText, fmtTime, fromZoneInput, t, zoneInput } from "./i18n.js";

const PREFIXES = ["auth.", "video.", "grant.", "incident.", "camera.", "audit."];
const PAGE = 100;
const NEWEST = Number.MAX_SAFE_INTEGER;  // before_seq of the first page: newest first

/** key=value pairs of an entry's detail, one line (nested values as JSON). */
function compact(detail) {
  return Object.entries(detail || {}).map(([k, v]) => `${k}=${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`).join(" ");
}

function entryRow(e) {
  const detail = compact(e.detail);
  return h("tr", { dataset: { seq: e.seq, action: e.action } },
    h("td", fmtTime(e.at)), h("td", e.actor), h("td.action", e.action),
    h("td", e.target_type ? `${e.target_type}:${e.target_id ?? ""}` : ""),
    h("td.detail", { title: detail }, detail));
}

async function verifyBadge(badge) {
  badge.className = "badge chain checking";
  badge.textContent = t("admin.audit.verifying");
  try {
    const v = await api(v1("audit/verify"));
    badge.className = `badge chain ${v.ok ? "ok" : "broken"}`;
    badge.dataset.ok = String(v.ok);
    badge.textContent = v.ok ? t("admin.audit.chain_ok", { entries: v.entries })
      : t("admin.audit.chain_broken", { problems: v.problems.length });
    badge.title = v.ok ? `#${v.head_seq} ${v.head_hash}` : JSON.stringify(v.problems.slice(0, 5));
  } catch (err) {
    badge.className = "badge chain broken";
    badge.textContent = errorText(err);
  }
}

/** The day picker (UTC days, as the roots are cut) and the signed root's download. */
function rootBar() {
  const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const day = h("input", { id: "root-day", type: "date", value: utcDay(Date.now() - 86400e3), max: utcDay(Date.now()) });
  const get = async () => {
    if (!day.value) return;
    try {
      const r = await authFetch(v1(`audit/roots/${day.value}/download`));
      if (!r.ok) throw await failure(r);
      download(await r.blob(), `audit-root-${day.value}.json`);
      toast(t("admin.audit.root_done", { day: day.value }));
    } catch (err) { toast(errorText(err), "error"); }
  };
  return h("span.rootbar", h("label", t("admin.audit.root"), day),
    h("button.ghost", { type: "button", id: "root-download", onclick: get }, t("admin.audit.root_download")));
}

function logTab() {
  const now = Date.now();
  const f = {
    prefix: h("input", { id: "audit-prefix", list: "audit-prefixes", size: 12, pattern: "[a-z_.]*", placeholder: t("admin.audit.prefix_hint") }),
    actor: h("input", { id: "audit-actor", size: 16, maxlength: 200, placeholder: t("admin.audit.actor_hint") }),
    since: h("input", { id: "audit-since", type: "datetime-local", value: zoneInput(new Date(now - 86400e3)) }),
    until: h("input", { id: "audit-until", type: "datetime-local" }),
  };
  const rows = h("tbody");
  const info = h("span.muted", { id: "audit-info" });
  const more = h("button.ghost", { id: "audit-more", hidden: true, onclick: () => load(false) }, t("admin.audit.more"));
  const badge = h("span.badge.chain", { id: "audit-chain" });
  let cursor = NEWEST, shown = 0;
  async function load(fresh) {
    if (fresh) { cursor = NEWEST; shown = 0; rows.replaceChildren(); }
    const prefix = f.prefix.value.trim();
    if (prefix && !/^[a-z_.]+$/.test(prefix)) return toast(t("admin.audit.prefix_bad"), "error");
    try {
      const page = await api(v1("audit"), { query: {
        before_seq: cursor, limit: PAGE, action_prefix: prefix || undefined, actor: f.actor.value.trim() || undefined,
        since: f.since.value ? fromZoneInput(f.since.value).toISOString() : undefined,
        until: f.until.value ? fromZoneInput(f.until.value).toISOString() : undefined } });
      rows.append(...page.items.map(entryRow));
      shown += page.items.length;
      cursor = page.next_before_seq ?? cursor;
      more.hidden = page.next_before_seq == null;
      info.textContent = shown ? t("admin.audit.shown", { n: shown }) : t("admin.audit.none");
    } catch (err) { toast(errorText(err), "error"); }
  }
  const form = h("form.filters", { id: "audit-filters", onsubmit: (e) => { e.preventDefault(); load(true); } },
    h("label", t("admin.audit.action"), f.prefix,
      h("datalist", { id: "audit-prefixes" }, PREFIXES.map((p) => h("option", { value: p })))),
    h("span.quick", PREFIXES.slice(0, 4).map((p) => h("button.ghost", { type: "button", dataset: { prefix: p },
      onclick: () => { f.prefix.value = p; load(true); } }, p))),
    h("label", t("admin.audit.actor"), f.actor),
    h("label", t("admin.audit.since"), f.since), h("label", t("admin.audit.until"), f.until),
    h("button", { type: "submit", id: "audit-search" }, t("admin.audit.search")),
    h("span.spacer"), badge, h("button.ghost", { type: "button", id: "audit-verify", onclick: () => verifyBadge(badge) }, t("admin.audit.verify")),
    rootBar());
  const keys = ["admin.audit.time", "admin.audit.actor", "admin.audit.action_col", "admin.audit.target", "admin.audit.detail"];
  const el = h("section.audittab", { id: "audit-log" }, form,
    h("div.tablewrap", h("table.admintable", { id: "audit-table" }, h("thead", h("tr", keys.map((k) => h("th", t(k))))), rows)),
    h("div.tablefoot", info, more));
  return { el, start: () => Promise.all([load(true), verifyBadge(badge)]) };
}

function viewsTab() {
  const rows = h("tbody");
  const keys = ["admin.views.camera", "admin.views.viewer", "admin.views.protocols", "admin.views.issued",
    "admin.views.started", "admin.views.stopped", "admin.views.ended"];
  const load = async () => {
    try {
      const sessions = await api(v1("streams/sessions"));
      rows.replaceChildren(...(sessions.length ? sessions.map((s) => h("tr", { dataset: { id: s.id, camera: s.camera_id } },
        h("td", s.camera_id), h("td", s.viewer), h("td", s.protocols.join(", ")), h("td", fmtTime(s.issued_at)),
        h("td", fmtTime(s.started_at)), h("td", fmtTime(s.stopped_at)),
        h("td.ended", { title: s.ended_reason || "" }, s.ended_at ? `${fmtTime(s.ended_at)} ${s.ended_code || ""}` : "",
          s.ended_reason ? h("div.muted", s.ended_reason) : null)))
        : [h("tr", h("td", { colspan: keys.length }, h("span.muted", t("admin.views.none"))))]));
    } catch (err) { toast(errorText(err), "error"); }
  };
  const el = h("section.audittab", { id: "audit-views", hidden: true },
    h("div.toolbar", h("button.ghost", { id: "views-refresh", onclick: load }, t("admin.views.refresh"))),
    h("div.tablewrap", h("table.admintable", { id: "views-table" }, h("thead", h("tr", keys.map((k) => h("th", t(k))))), rows)));
  return { el, start: load };
}

export async function auditPage(root) {
  const log = logTab(), views = viewsTab();
  const tabs = { log, views };
  const loaded = new Set();
  const show = (name) => {
    for (const [k, tab] of Object.entries(tabs)) tab.el.hidden = k !== name;
    for (const b of root.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
    if (!loaded.has(name)) { loaded.add(name); return tabs[name].start(); }
    return null;
  };
  root.replaceChildren(h("div.adminpage.audit",
    h("div.tabs", { role: "tablist" }, Object.keys(tabs).map((k) =>
      h("button.ghost", { type: "button", role: "tab", dataset: { tab: k }, onclick: () => show(k) }, t(`admin.audit.tab.${k}`)))),
    log.el, views.el));
  await show("log");
}
