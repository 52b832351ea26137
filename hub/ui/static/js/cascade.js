// Upper platforms (admins): the provincial (or other superior) GB/T 28181 platforms this
// city registers to, whether each registration holds (last keepalive, last error), how much
// of the catalog it has, and what the admin's own department shares with it (playback
// allowed or not, revoked shares last). Configured in the city file; read-only here.
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, fmtTime, t } from "./i18n.js";

function stateCell(u) {
  const state = !u.enabled ? "disabled" : u.registered ? "registered" : "unregistered";
  return h(`td.state.${state}`, { title: u.last_error || "" }, t(`cascade.state.${state}`),
    u.last_error ? h("small", ` — ${u.last_error}`) : null);
}

function catalogCell(u) {
  if (u.catalog_total == null) return h("td", "–");
  const complete = u.catalog_sent >= u.catalog_total;
  return h(`td.${complete ? "ok" : "partial"}`, t("cascade.catalog_of",
    { sent: u.catalog_sent, total: u.catalog_total }), h("small", ` ${fmtTime(u.catalog_at)}`));
}

export async function cascadePage(root) {
  const rows = h("tbody");
  const side = h("aside.adminside", { id: "cascade-side" });
  root.replaceChildren(h("div.adminpage.sharing",
    h("section.admintables",
      h("div.toolbar", h("h2", t("cascade.title"))),
      h("table.admintable", { id: "cascade-table" },
        h("thead", h("tr", ["cascade.name", "cascade.address", "cascade.state",
          "cascade.keepalive", "cascade.catalog", "cascade.shared"].map((k) => h("th", t(k))))),
        rows)),
    side));

  async function load() {
    let list;
    try {
      list = await api(v1("gb28181/uppers"));
    } catch (e) {
      return toast(errorText(e), "error");
    }
    rows.replaceChildren(...list.map((u) => h("tr", {
      dataset: { id: u.id, registered: String(u.registered) }, onclick: () => shares(u) },
    h("td", u.name || u.id, h("small", ` ${u.id}`)),
    h("td", `${u.host}:${u.port}/${u.transport}`), stateCell(u),
    h("td", u.last_keepalive_at ? fmtTime(u.last_keepalive_at) : "–"), catalogCell(u),
    h("td.shared", String(u.shared)))));
    if (!list.length) rows.replaceChildren(h("tr", h("td", { colSpan: 6 }, t("cascade.none"))));
  }

  async function shares(u) {
    let list;
    try {
      list = await api(v1(`gb28181/uppers/${u.id}/shares`));
    } catch (e) {
      return toast(errorText(e), "error");
    }
    side.replaceChildren(h("h3", t("cascade.shares_title", { name: u.name || u.id })),
      h("table.admintable", { id: "cascade-shares" },
        h("thead", h("tr", ["cascade.channel", "cascade.camera", "cascade.playback",
          "cascade.share_state"].map((k) => h("th", t(k))))),
        h("tbody", list.length ? list.map((s) => h("tr", { dataset: { camera: s.camera_id, active: String(s.active) } },
          h("td", s.channel_id), h("td", s.camera_name || s.camera_id),
          h("td", t(s.playback ? "cascade.yes" : "cascade.no")),
          h("td", s.active ? t("cascade.active") : s.revoked_at
            ? t("cascade.revoked", { at: fmtTime(s.revoked_at) }) : t("cascade.void"))))
          : [h("tr", h("td", { colSpan: 4 }, t("cascade.no_shares")))])));
  }

  await load();
  const timer = setInterval(load, 10000);
  return () => clearInterval(timer);
}
