// New cameras (admins): what the department's edge boxes discovered over ONVIF, plus a probe
// of any address; accepting one checks its login against the camera and makes it a camera
// of the department (its password sealed by the hub, never shown again), rejecting records
// why. The wall lists an accepted camera as soon as the relay has pulled it.
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, fmtTime, t } from "./i18n.js";

const SYSTEMS = ["safecity", "traffic", "citymgmt", "overload", "bus"];

export async function pendingPage(root) {
  const rows = h("tbody");
  const side = h("aside.adminside", { id: "pending-side" });
  const stateSel = h("select", { id: "pending-state", onchange: () => load() },
    ["pending", "accepted", "rejected"].map((s) => h("option", { value: s }, t(`pending.state.${s}`))));
  root.replaceChildren(h("div.adminpage.sharing",
    h("section.admintables",
      h("div.toolbar", h("h2", t("pending.title")), stateSel,
        h("button.ghost", { id: "pending-probe", onclick: () => probeForm() }, t("pending.probe"))),
      h("table.admintable", { id: "pending-table" },
        h("thead", h("tr", ["pending.name", "pending.address", "pending.site", "pending.found_by",
          "pending.seen", "pending.state", "pending.action"].map((k) => h("th", t(k))))), rows)),
    side));

  async function load() {
    let list;
    try {
      list = await api(v1("pending-cameras"), { query: { state: stateSel.value } });
    } catch (e) {
      return toast(errorText(e), "error");
    }
    rows.replaceChildren(...list.map((p) => h("tr", { dataset: { id: p.id, host: p.host, state: p.state } },
      h("td", p.name || p.hardware || p.endpoint), h("td", `${p.host}:${p.port}`), h("td", p.site || "–"),
      h("td", p.device || t("pending.by_probe")),
      h("td", `${fmtTime(p.first_seen)} – ${fmtTime(p.last_seen)}`),
      h("td", p.camera ? `${t(`pending.state.${p.state}`)} → ${p.camera}` : t(`pending.state.${p.state}`)),
      h("td", p.state === "pending" ? [
        h("button", { dataset: { action: "accept" }, onclick: () => acceptForm(p) }, t("pending.accept")), " ",
        h("button.ghost", { dataset: { action: "reject" }, onclick: () => reject(p) }, t("pending.reject"))] : null))));
    if (!list.length) rows.replaceChildren(h("tr", h("td", { colSpan: 7 }, t("pending.none"))));
  }

  function field(name, label, attrs = {}) {
    return h("label", t(label), h("input", { name, required: true, ...attrs }));
  }

  function acceptForm(p) {
    const errors = h("ul.formerrors");
    const form = h("form.grantform", { id: "accept-form", onsubmit: async (e) => {
      e.preventDefault();
      const f = new FormData(form);
      const body = Object.fromEntries([...f.entries()].filter(([, v]) => v !== ""));
      try {
        const made = await api(v1(`pending-cameras/${p.id}/accept`), { method: "POST", body });
        toast(t("pending.accepted", { camera: made.camera.id }), "ok");
        side.replaceChildren();
        load();
      } catch (err) {
        errors.replaceChildren(h("li", errorText(err)));
      }
    } },
    h("h3", t("pending.accept_title", { name: p.name || p.host })),
    field("id", "pending.camera_id", { pattern: "[A-Za-z0-9][A-Za-z0-9_.:-]*", maxLength: 64 }),
    field("name", "pending.camera_name", { value: p.name || "" }),
    field("site", "pending.site", { value: p.site || "" }),
    h("label", t("pending.system"), h("select", { name: "system" }, SYSTEMS.map((s) => h("option", { value: s }, s)))),
    field("username", "pending.username", { autocomplete: "off" }),
    field("password", "pending.password", { type: "password", autocomplete: "new-password" }),
    h("label", t("pending.profile"), h("select", { name: "profile" },
      ["main", "sub"].map((s) => h("option", { value: s }, t(`pending.profile.${s}`))))),
    errors, h("button", { type: "submit" }, t("pending.accept")));
    side.replaceChildren(form);
  }

  function probeForm() {
    const out = h("div");
    const form = h("form.grantform", { id: "probe-form", onsubmit: async (e) => {
      e.preventDefault();
      const body = Object.fromEntries(new FormData(form).entries());
      body.port = Number(body.port);
      out.replaceChildren(h("p.muted", t("pending.probing")));
      try {
        const r = await api(v1("pending-cameras/probe"), { method: "POST", body });
        out.replaceChildren(h("p", `${r.device.manufacturer} ${r.device.model} (${r.device.firmware})`),
          h("ul", r.profiles.map((pr) => h("li", `${pr.name}: ${pr.encoding} ${pr.width}×${pr.height}${pr.ptz ? " · PTZ" : ""}`))));
        load();
      } catch (err) {
        out.replaceChildren(h("p.formerrors", errorText(err)));
      }
    } },
    h("h3", t("pending.probe")), field("address", "pending.address"),
    field("port", "pending.port", { type: "number", value: 80, min: 1, max: 65535 }),
    field("username", "pending.username", { autocomplete: "off" }),
    field("password", "pending.password", { type: "password", autocomplete: "new-password" }),
    h("button", { type: "submit" }, t("pending.probe")), out);
    side.replaceChildren(form);
  }

  async function reject(p) {
    const reason = prompt(t("pending.reject_reason"));
    if (!reason) return;
    try {
      await api(v1(`pending-cameras/${p.id}/reject`), { method: "POST", body: { reason } });
      load();
    } catch (e) {
      toast(errorText(e), "error");
    }
  }

  await load();
}
