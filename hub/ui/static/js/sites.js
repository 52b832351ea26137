// Sites & cameras (admins): the department's sites, each with its cameras; forms to add,
// change and remove them, placing a site or camera by a click on a small map. Camera
// credentials are write-only: the hub seals them and never returns them, so the form never
// shows one; it says whether some are stored, and empty fields keep them.
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, t } from "./i18n.js";
import { placePicker } from "./placepick.js";

const SYSTEMS = ["safecity", "traffic", "citymgmt", "overload", "bus", "edge"];
const RECORDING = ["continuous", "events", "off"];
const q = encodeURIComponent;

function field(label, input) { return h("label", t(label), input); }

/** The form's errors list and a submit handler that shows what the API refused. */
function submitting(form, errors, work) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    errors.replaceChildren();
    try { await work(); } catch (err) {
      errors.replaceChildren(h("li", { dataset: { code: err.code || "" } }, errorText(err)));
    } finally { button.disabled = false; }
  });
}

function siteForm(ctx, site, centre, done) {
  const errors = h("ul.error.formerrors", { id: "site-errors", role: "alert" });
  const place = placePicker(ctx.config, "site-map", site?.location, centre);
  const id = h("input", { name: "id", value: site?.id ?? "", readOnly: !!site, maxLength: 64 });
  const name = h("input", { name: "name", value: site?.name ?? "", maxLength: 200 });
  const form = h("form.grantform", { id: "site-form", novalidate: true },
    h("h3", t(site ? "sites.site.edit_title" : "sites.site.add_title")),
    field("sites.site.id", id), field("sites.site.name", name),
    place.el, errors, h("button", { type: "submit", id: "site-save" }, t("sites.save")));
  submitting(form, errors, async () => {
    const body = { name: name.value.trim() };
    if (place.value()) body.location = place.value();
    const saved = site ? await api(v1(`sites/${q(site.id)}`), { method: "PATCH", body })
      : await api(v1("sites"), { method: "POST", body: { id: id.value.trim(), ...body } });
    toast(t("sites.site.saved", { name: saved.name }), "ok");
    done();
  });
  return { form, start: place.start, stop: place.stop };
}

/** The camera's credentials as the API takes them: only the parts typed in (the others
 * stay as stored), the URL required for a new camera. */
function credentials(f, creating) {
  const url = f("url").value.trim(), user = f("username").value.trim(), pw = f("password").value;
  if (!url && creating) throw new Error(t("sites.camera.need_url"));
  return { ...(url ? { url } : {}), ...(user ? { username: user } : {}), ...(pw ? { password: pw } : {}) };
}

function cameraBody(f, place, creating) {
  const num = (name) => (f(name).value === "" ? undefined : Number(f(name).value));
  const body = { name: f("name").value.trim(), always_on: f("always_on").checked,
    heading: num("heading"), fov: num("fov"), ...credentials(f, creating) };
  if (place.value()) body.location = place.value();
  if (creating) Object.assign(body, { id: f("id").value.trim(), site: f("site").value, system: f("system").value });
  return body;
}

function cameraForm(ctx, cam, { sites, siteId, policy, system }, done) {
  const errors = h("ul.error.formerrors", { id: "camera-errors", role: "alert" });
  const site = sites.find((s) => s.id === (cam?.site || siteId)) || sites[0];
  const at = cam?.location || site?.location;
  const place = placePicker(ctx.config, "camera-map", at, null);
  const mode = policy?.mode || "";
  const recording = h("select", { name: "recording" },
    h("option", { value: "" }, t(mode === "schedule" ? "sites.recording.schedule_kept" : "sites.recording.unset")),
    RECORDING.map((m) => h("option", { value: m, selected: m === mode }, t(`sites.recording.${m}`))));
  const stored = cam?.has_credentials;
  const form = h("form.grantform", { id: "camera-form", novalidate: true },
    h("h3", t(cam ? "sites.camera.edit_title" : "sites.camera.add_title")),
    field("sites.camera.id", h("input", { name: "id", value: cam?.id ?? "", readOnly: !!cam, maxLength: 64 })),
    field("sites.camera.name", h("input", { name: "name", value: cam?.name ?? "", maxLength: 200 })),
    field("sites.camera.site", h("select", { name: "site", disabled: !!cam },
      sites.map((s) => h("option", { value: s.id, selected: s.id === site?.id }, `${s.name} (${s.id})`)))),
    field("sites.camera.system", h("select", { name: "system", disabled: !!cam },
      SYSTEMS.map((s) => h("option", { value: s, selected: s === (cam?.system || system) }, s)))),
    h("fieldset.creds", h("legend", t("sites.camera.credentials")),
      h("p", { id: "camera-secret", dataset: { set: String(!!stored) } },
        h(`span.badge.${stored ? "gs-active" : "gs-expired"}`, t(stored ? "sites.camera.secret_set" : "sites.camera.secret_unset"))),
      field("sites.camera.url", h("input", { name: "url", autocomplete: "off", spellcheck: false,
        placeholder: t(cam ? "sites.camera.keep" : "sites.camera.url_hint") })),
      field("sites.camera.username", h("input", { name: "username", autocomplete: "off",
        placeholder: cam ? t("sites.camera.keep") : "" })),
      field("sites.camera.password", h("input", { name: "password", type: "password", autocomplete: "new-password",
        placeholder: cam ? t("sites.camera.keep") : "" })),
      h("p.muted", t(cam ? "sites.camera.creds_edit_hint" : "sites.camera.creds_hint"))),
    h("div.latlon",
      field("sites.camera.heading", h("input", { name: "heading", type: "number", min: 0, max: 359.9, step: "any", value: cam?.heading ?? "" })),
      field("sites.camera.fov", h("input", { name: "fov", type: "number", min: 1, max: 360, step: "any", value: cam?.fov ?? "" }))),
    h("label.inline", h("input", { type: "checkbox", name: "always_on", checked: !!cam?.always_on }), t("sites.camera.always_on")),
    field("sites.camera.recording", recording),
    place.el, errors, h("button", { type: "submit", id: "camera-save" }, t("sites.save")));
  const f = (name) => form.elements.namedItem(name);
  submitting(form, errors, async () => {
    const body = cameraBody(f, place, !cam);
    const saved = cam ? await api(v1(`cameras/${q(cam.id)}`), { method: "PATCH", body })
      : await api(v1("cameras"), { method: "POST", body });
    f("password").value = "";
    if (recording.value && recording.value !== mode) {
      await api(v1(`cameras/${q(saved.id)}/recording`), { method: "PUT", body: { mode: recording.value } });
    }
    toast(t("sites.camera.saved", { name: saved.name }), "ok");
    done();
  });
  return { form, start: place.start, stop: place.stop };
}

function cameraRow(c, actions) {
  const view = c.heading != null ? t("sites.camera.view", { heading: Math.round(c.heading), fov: Math.round(c.fov ?? 60) }) : "";
  return h("tr.camera", { dataset: { camera: c.id, site: c.site } },
    h("td.indent", c.name, h("div.muted", c.id)), h("td", [c.system, view].filter(Boolean).join(" · ")),
    h("td", h(`span.badge.${c.has_credentials ? "gs-active" : "gs-expired"}`,
      t(c.has_credentials ? "sites.camera.secret_set" : "sites.camera.secret_unset"))),
    h("td", h("button.ghost.camera-edit", { onclick: () => actions.editCamera(c) }, t("sites.edit")), " ",
      h("button.ghost.camera-delete", { onclick: () => actions.remove("cameras", c) }, t("sites.delete"))));
}

function siteRows(s, cams, actions) {
  const where = s.location ? `${s.location.lat.toFixed(5)}, ${s.location.lon.toFixed(5)}` : t("sites.site.unplaced");
  return [h("tr.site", { dataset: { site: s.id } },
    h("td", h("b", s.name), h("div.muted", s.id)), h("td", where, " · ", t("sites.site.cameras", { n: cams.length })),
    h("td"),
    h("td", h("button.ghost.site-edit", { onclick: () => actions.editSite(s) }, t("sites.edit")), " ",
      h("button.ghost.site-delete", { onclick: () => actions.remove("sites", s) }, t("sites.delete")), " ",
      h("button.ghost.site-add-camera", { onclick: () => actions.editCamera(null, s.id) }, t("sites.camera.add")))),
  ...cams.map((c) => cameraRow(c, actions))];
}

export async function sitesPage(root, ctx) {
  const me = ctx.me.department;
  const body = h("tbody");
  const side = h("aside.adminside", { id: "sites-side" });
  let sites = [], system = "safecity", open = null;
  const show = (made) => { open?.stop(); side.replaceChildren(made.form); made.start(); open = made; };
  const close = () => { open?.stop(); open = null; side.replaceChildren(h("p.muted", t("sites.pick_hint"))); };
  const centre = () => { const s = sites.find((x) => x.location); return s ? [s.location.lat, s.location.lon] : null; };
  const done = () => { close(); return load(); };
  const actions = {
    editSite: (s) => show(siteForm(ctx, s, centre(), done)),
    async editCamera(c, siteId) {
      if (!sites.length) return toast(t("sites.camera.need_site"), "error");
      const policy = c ? (await api(v1(`cameras/${q(c.id)}/recording`)).catch(() => null))?.policy : null;
      show(cameraForm(ctx, c, { sites, siteId, policy, system }, done));
    },
    async remove(kind, row) {
      if (!window.confirm(t(`sites.confirm.${kind}`, { name: row.name, id: row.id }))) return;
      try {
        await api(v1(`${kind}/${q(row.id)}`), { method: "DELETE" });
        toast(t("sites.deleted", { name: row.name }), "ok");
        await done();
      } catch (err) { toast(errorText(err), "error"); }
    },
  };
  async function load() {
    const [all, cams] = await Promise.all([api(v1("sites")), api(v1("cameras"))]);
    sites = all.filter((s) => s.department === me);
    const mine = cams.filter((c) => c.department === me);
    system = mine[0]?.system || system;
    body.replaceChildren(...sites.flatMap((s) => siteRows(s, mine.filter((c) => c.site === s.id), actions)));
    if (!sites.length) body.replaceChildren(h("tr.empty", h("td", { colSpan: 4 }, h("span.muted", t("sites.none")))));
    body.dataset.loaded = String(Date.now());
  }
  root.replaceChildren(h("div.adminpage.sharing",
    h("section.admintables",
      h("div.toolbar", h("h2", t("sites.title")),
        h("button", { id: "site-add", onclick: () => actions.editSite(null) }, t("sites.site.add")),
        h("button.ghost", { id: "camera-add", onclick: () => actions.editCamera(null) }, t("sites.camera.add"))),
      h("table.admintable", { id: "sites-table" }, h("thead", h("tr",
        ["sites.col.name", "sites.col.detail", "sites.col.credentials", "sites.col.action"].map((k) => h("th", t(k))))), body)),
    side));
  close();
  await load();
  return () => open?.stop();
}
