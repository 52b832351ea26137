// Incidents: the department's queue with filters, an incident's page (timeline, map,
// attached video, photos, the actions its state allows, countdowns to its time limits),
// filing by hand at a place, and live notices of new assignments. Works on a phone.
import * as L from "/ui/vendor/leaflet/leaflet-src.esm.js";
import { api, authFetch, streamEvents, v1 } from "./api.js";
import { addBasemap } from "./basemap.js";
import { h, toast } from "./dom.js";
import { CameraPlayer } from "./player.js";
import { fmtDuration, fmtTime, kindText, loadStrings, t } from "./i18n.js";

const OPEN = ["new", "acknowledged", "dispatched", "in_progress", "reopened"];
const LIMITS = [["acknowledge", "acknowledged_at"], ["dispatch", "dispatched_at"], ["resolve", "resolved_at"]];
const REASON = new Set(["hand_back", "reopen", "cancel"]);
const params = () => new URLSearchParams(location.hash.split("?")[1] || "");

/** Next pending limit of an incident and the seconds left (negative: overdue). */
function countdown(inc) {
  if (!OPEN.includes(inc.state)) return null;
  for (const [limit, done] of LIMITS) {
    if (!inc[done] && inc[`${limit}_due`]) {
      const left = (Date.parse(inc[`${limit}_due`]) - Date.now()) / 1000;
      return { limit, left, text: t(left >= 0 ? "incidents.countdown.left" : "incidents.countdown.over",
        { limit: t(`incidents.limit.${limit}`), time: fmtDuration(left) }) };
    }
  }
  return null;
}

function tick(root) {
  for (const el of root.querySelectorAll("[data-due]")) {
    const c = countdown(JSON.parse(el.dataset.due));
    el.textContent = c ? c.text : "";
    el.classList.toggle("over", !!c && c.left < 0);
  }
}

function stateBadge(state) { return h(`span.badge.st-${state}`, { dataset: { state } }, t(`incidents.state.${state}`)); }

async function failed(e) {
  let code = null;
  try { code = JSON.parse(e.message)?.code; } catch { /* plain text */ }
  toast(code ? t(`incidents.error.${code}`) : e.message, "error");
}

/** POST with the error's machine code kept (the shared api() keeps only the text). */
async function post(path, body) {
  const r = await authFetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) { const err = new Error(t(`incidents.error.${j.code}`) !== `incidents.error.${j.code}` ? t(`incidents.error.${j.code}`) : (j.detail || r.statusText)); err.code = j.code; throw err; }
  return j;
}

export async function incidentsPage(root, ctx) {
  await loadStrings();
  const p = params();
  if (p.get("id")) return incidentPage(root, ctx, p.get("id"));
  if (p.get("new")) return newIncident(root, ctx, p);
  return queuePage(root, ctx, p);
}

async function queuePage(root, ctx, p) {
  const side = h("select", { id: "inc-side" }, ["all", "filed", "assigned"].map((s) => h("option", { value: s, selected: p.get("side") === s }, t(`incidents.side.${s}`))));
  const open = h("input", { id: "inc-open", type: "checkbox", checked: p.get("open") !== "0" });
  const kind = h("input", { id: "inc-kind", placeholder: t("incidents.filter.kind"), size: 12, value: p.get("kind") || "" });
  const prio = h("select", { id: "inc-priority" }, h("option", { value: "" }, t("incidents.filter.priority")), [1, 2, 3, 4].map((n) => h("option", { value: n }, `P${n}`)));
  const list = h("div.inc-list", { id: "inc-list" });
  const load = async () => {
    const rows = await api(v1("incidents"), { query: { side: side.value, state: open.checked ? OPEN : undefined, kind: kind.value || undefined, priority: prio.value || undefined, limit: 100 } });
    list.replaceChildren(...(rows.length ? rows.map((r) => h("a.inc-row", { href: `#/incidents?id=${r.id}`, dataset: { id: r.id, state: r.state } },
      h("span.num", `#${r.number}`), h("span.prio", `P${r.priority}`), stateBadge(r.state),
      h("span.title", r.title), h("span.muted", `${r.kind} · ${r.site_id || ""} · ${r.department_id}`),
      h("span.muted", fmtTime(r.created_at)), h("span.due", { dataset: { due: JSON.stringify(r) } }))) : [h("p.muted", t("incidents.empty"))]));
    tick(list);
  };
  for (const el of [side, open, prio]) el.addEventListener("change", load);
  kind.addEventListener("change", load);
  root.replaceChildren(h("div.incpage",
    h("div.toolbar", side, h("label.inline", open, t("incidents.filter.open")), kind, prio,
      h("button", { onclick: load }, t("incidents.refresh")),
      h("a.button", { href: "#/incidents?new=1" }, t("incidents.new")),
      h("a.button", { href: "#/incident-stats" }, t("incidents.nav.stats"))),
    list));
  await load();
  const timer = setInterval(() => tick(list), 1000);
  const stop = notices(ctx, load);
  return () => { clearInterval(timer); stop(); };
}

/** Live notices of assignments, hand-backs and breaches for the department. */
export function notices(ctx, onNotice = () => {}) {
  const abort = new AbortController();
  streamEvents(v1("incidents/live?seconds=600"), (type, n) => {
    if (type !== "notice") return;
    const key = n.reason.startsWith("breach") ? "incidents.notice.breach" : `incidents.notice.${n.reason}`;
    toast(t(key, n), n.reason.startsWith("breach") ? "error" : "info");
    onNotice(n);
  }, abort.signal).catch(() => {});
  return () => abort.abort();
}

async function newIncident(root, ctx, p) {
  const sites = await api(v1("sites")).catch(() => []);
  const form = h("form.incform", { id: "inc-new" },
    h("label", t("incidents.title"), h("input", { name: "title", required: true, maxlength: 200 })),
    h("label", t("incidents.kind"), h("input", { name: "kind", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_.-]*", value: p.get("kind") || "" })),
    h("label", t("incidents.priority"), h("select", { name: "priority" }, [1, 2, 3, 4].map((n) => h("option", { value: n, selected: n === 2 }, `P${n}`)))),
    h("label", t("incidents.site"), h("select", { name: "site" }, h("option", { value: "" }, "—"), sites.map((s) => h("option", { value: s.id, selected: s.id === p.get("site") }, s.name)))),
    p.getAll("event").length ? h("p.muted", `${t("incidents.events")}: ${p.getAll("event").length}`) : null,
    h("label", t("incidents.lat"), h("input", { name: "lat", type: "number", step: "any", value: p.get("lat") || "" })),
    h("label", t("incidents.lon"), h("input", { name: "lon", type: "number", step: "any", value: p.get("lon") || "" })),
    h("label", t("incidents.description"), h("textarea", { name: "description", maxlength: 2000 })),
    h("button", { type: "submit" }, t("incidents.create")));
  const mapEl = h("div.incmap");
  root.replaceChildren(h("div.incpage", h("div.toolbar", h("a", { href: "#/incidents" }, t("incidents.back"))), h("div.incnew", form, mapEl)));
  const map = L.map(mapEl);
  addBasemap(map, ctx.config);
  const pts = sites.filter((s) => s.location).map((s) => [s.location.lat, s.location.lon]);
  if (pts.length) map.fitBounds(pts, { padding: [30, 30], maxZoom: 15 }); else map.setView([30.66, 104.06], 12);
  for (const ll of pts) L.circleMarker(ll, { radius: 8, color: "#90caf9" }).addTo(map);
  let pin = null;
  map.on("click", (e) => {
    form.lat.value = e.latlng.lat.toFixed(6); form.lon.value = e.latlng.lng.toFixed(6);
    pin?.remove(); pin = L.marker(e.latlng).addTo(map);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = { title: f.get("title"), kind: f.get("kind"), priority: Number(f.get("priority")), description: f.get("description") || "" };
    if (f.get("site")) body.site = f.get("site");
    if (p.getAll("event").length) body.events = p.getAll("event");
    if (f.get("lat") && f.get("lon")) body.location = { lat: Number(f.get("lat")), lon: Number(f.get("lon")) };
    try { const inc = await post(v1("incidents"), body); location.hash = `#/incidents?id=${inc.id}`; } catch (err) { toast(err.message, "error"); }
  });
  return () => map.remove();
}

/** Snapshots and clips the attached events carry (first few), through the events API. */
function eventMedia(events) {
  const box = h("div.incphotos.eventmedia");
  const items = events.flatMap((e) => (e.media || []).map((m, i) => [e, m, i])).slice(0, 8);
  for (const [e, m, i] of items) {
    const clip = m.kind === "clip";
    authFetch(v1(`events/${e.event_id}/media/${i}`)).then((r) => (r.ok ? r.blob() : null)).then((b) => {
      if (!b) return;
      const src = URL.createObjectURL(b);
      box.append(clip ? h("video", { src, controls: true, muted: true, playsinline: true }) : h("img", { src, alt: m.kind }));
    }).catch(() => {});
  }
  return box;
}

async function incidentPage(root, ctx, id) {
  let inc = await api(v1(`incidents/${id}`));
  const players = [];
  let map = null;
  const departments = await api(v1("departments")).catch(() => []);
  const render = () => {
    for (const pl of players.splice(0)) pl.stop();
    map?.remove(); map = null;
    const reason = h("input", { id: "inc-reason", placeholder: t("incidents.reason"), maxlength: 2000 });
    const target = h("select", { id: "inc-dispatch" }, departments.map((d) => h("option", { value: d.id }, d.name)));
    const act = async (name) => {
      const body = { version: inc.version, reason: reason.value };
      if (name === "dispatch") body.assignees = [{ department: target.value }];
      try { inc = await post(v1(`incidents/${id}/actions/${name}`), body); render(); }
      catch (e) { toast(e.message, "error"); if (e.code === "incident_version_conflict") { inc = await api(v1(`incidents/${id}`)); render(); } }
    };
    const actions = h("div.incactions", { id: "inc-actions" },
      inc.actions.includes("dispatch") ? target : null,
      inc.actions.some((a) => REASON.has(a)) ? reason : null,
      inc.actions.map((a) => h(`button.act-${a}`, { dataset: { action: a }, onclick: () => act(a) }, t(`incidents.action.${a}`))));
    const videos = h("div.incvideos", inc.cameras.map((c) => {
      const video = h("video", { muted: true, autoplay: true, playsinline: true });
      const img = h("img.fallback", { hidden: true, alt: "" });
      const status = h("span.muted", "");
      const pl = new CameraPlayer(video, img, c.camera_id, (s) => { status.textContent = s; });
      players.push(pl); pl.start();
      return h("div.incvideo", { dataset: { camera: c.camera_id } }, h("div.tilebar", h("span.tilename", c.camera_id), status), video, img,
        h("div.muted", `${fmtTime(c.starts_at)} – ${fmtTime(c.ends_at)}`));
    }));
    const comment = h("form.inccomment",
      h("input", { name: "body", placeholder: t("incidents.comment"), required: true, maxlength: 2000 }),
      h("button", { type: "submit" }, t("incidents.comment.add")));
    comment.addEventListener("submit", async (e) => {
      e.preventDefault();
      try { inc = await post(v1(`incidents/${id}/comments`), { body: comment.body.value }); render(); } catch (err) { toast(err.message, "error"); }
    });
    const photo = h("input", { id: "inc-photo", type: "file", accept: "image/jpeg,image/png,image/webp", capture: "environment" });
    photo.addEventListener("change", async () => {
      if (!photo.files[0]) return;
      const fd = new FormData(); fd.append("file", photo.files[0]);
      const r = await authFetch(v1(`incidents/${id}/photos`), { method: "POST", body: fd });
      const j = await r.json().catch(() => ({}));
      if (r.ok) { inc = j; render(); } else toast(t(`incidents.error.${j.code}`), "error");
    });
    const photos = h("div.incphotos", inc.photos.map((ph) => {
      const img = h("img", { alt: ph.caption || "" });
      authFetch(v1(`incidents/${id}/photos/${ph.id}`)).then((r) => r.blob()).then((b) => { img.src = URL.createObjectURL(b); }).catch(() => {});
      return img;
    }));
    const mapEl = h("div.incmap");
    root.replaceChildren(h("div.incpage.incdetail",
      h("div.toolbar", h("a", { href: "#/incidents" }, t("incidents.back"))),
      h("div.inchead", h("h2", `#${inc.number} ${inc.title}`), stateBadge(inc.state),
        h("span.due", { id: "inc-due", dataset: { due: JSON.stringify(inc) } }),
        h("div.muted", `${inc.kind} · P${inc.priority} · ${inc.department_id} · ${inc.site_id || ""} · ${fmtTime(inc.created_at)}`),
        inc.description ? h("p", inc.description) : null),
      actions,
      h("div.incgrid",
        h("section", h("h3", t("incidents.timeline")), h("ol.timeline", { id: "inc-timeline" }, inc.timeline.map((c) =>
          h("li", { dataset: { action: c.action || "" } }, h("span.muted", fmtTime(c.at)), " ",
            h("b", c.action ? t(`incidents.action.${c.action}`) : ""), " ", c.body === c.action ? "" : c.body, " ",
            h("span.muted", `— ${c.author}`)))), comment),
        h("section", h("h3", t("incidents.assignees")), h("ul", inc.assignees.map((a) =>
          h("li", { class: a.ended_at ? "muted" : "" }, `${a.department_id}${a.assignee ? " / " + a.assignee : ""} · ${fmtTime(a.assigned_at)}${a.ended_at ? " – " + fmtTime(a.ended_at) + (a.end_reason ? ` (${a.end_reason})` : "") : ""}`))),
          h("h3", t("incidents.cameras")), videos,
          h("h3", t("incidents.photos")), photos, h("label.button", t("incidents.photo.add"), photo),
          h("h3", t("incidents.events")), h("ul", inc.events.map((e) => h("li", `${fmtTime(e.occurred_at)} ${kindText(e.kind)} · ${e.site_id}${e.camera_id ? " · " + e.camera_id : ""}`))),
          eventMedia(inc.events),
          mapEl))));
    if (inc.lat != null && inc.lon != null) {
      map = L.map(mapEl).setView([inc.lat, inc.lon], 16);
      addBasemap(map, ctx.config);
      L.marker([inc.lat, inc.lon]).addTo(map);
    } else mapEl.remove();
    tick(root);
  };
  render();
  const timer = setInterval(() => tick(root), 1000);
  const stop = notices(ctx, async (n) => { if (n.incident_id === id) { inc = await api(v1(`incidents/${id}`)); render(); } });
  return () => { clearInterval(timer); stop(); for (const pl of players) pl.stop(); map?.remove(); };
}
