// Event console: filters (time, system, kind, site, plate), results with a keyset cursor,
// a live stream of new events, detail with snapshot/clip, open on the wall, evidence export.
import { api, authFetch, playToken, streamEvents, v1 } from "./api.js";
import { download, h, toast } from "./dom.js";
import { countsChart } from "./charts.js";
import { closePlayer, openPlayer } from "./fullplayer.js";
import { errorText, fmtTime, fromZoneInput, KNOWN_KINDS, kindText, t, zoneInput } from "./i18n.js";

const SYSTEMS = ["safecity", "traffic", "citymgmt", "overload", "bus", "edge", "other"];
const RANGES = { "core.range.1h": 3600e3, "core.range.24h": 86400e3, "core.range.7d": 7 * 86400e3 };
const MAX_ROWS = 1000;

export async function eventsPage(root, ctx) {
  const sites = await api(v1("sites"));
  const siteName = Object.fromEntries(sites.map((s) => [s.id, s.name]));
  const cameras = Object.fromEntries((await api(v1("cameras"))).map((c) => [c.id, c]));
  const now = new Date();
  const f = {
    start: h("input", { type: "datetime-local", id: "f-start", value: zoneInput(new Date(now - 86400e3)) }),
    end: h("input", { type: "datetime-local", id: "f-end", value: zoneInput(new Date(now.getTime() + 60e3)) }),
    system: h("select", { id: "f-system" }, h("option", { value: "" }, t("core.events.any_system")), ...SYSTEMS.map((s) => h("option", { value: s }, s))),
    kind: h("input", { id: "f-kind", placeholder: t("core.events.kind_hint"), maxlength: 64, list: "kind-list" }),
    site: h("select", { id: "f-site" }, h("option", { value: "" }, t("core.events.any_site")), ...sites.map((s) => h("option", { value: s.id }, s.name))),
    plate: h("input", { id: "f-plate", placeholder: t("core.events.plate"), maxlength: 32 }),
  };
  const live = h("input", { type: "checkbox", id: "f-live" });
  const rows = h("tbody");
  const more = h("button.ghost", { id: "more", hidden: true, onclick: () => load(false) }, t("core.events.more"));
  const info = h("span.muted", { id: "result-info" });
  const detail = h("aside.detail", { id: "event-detail" }, h("p.muted", t("core.events.select")));
  const chart = h("div.chart", { id: "events-chart" });
  let cursor = null, shown = 0, abort = null, chartHandle = null;

  const form = h("form.filters", { id: "filters", onsubmit: (e) => { e.preventDefault(); load(true); } },
    h("label", t("core.events.from"), f.start), h("label", t("core.events.to"), f.end),
    h("span.quick", ...Object.entries(RANGES).map(([label, ms]) => h("button.ghost", { type: "button", onclick: () => {
      f.start.value = zoneInput(new Date(Date.now() - ms)); f.end.value = zoneInput(new Date(Date.now() + 60e3)); load(true);
    } }, t(label)))),
    h("label", t("core.events.system"), f.system), h("label", t("core.events.kind"), f.kind,
      h("datalist", { id: "kind-list" }, ...KNOWN_KINDS().map(([k, text]) => h("option", { value: k, label: text })))), h("label", t("core.events.site"), f.site), h("label", t("core.events.plate"), f.plate),
    h("button", { type: "submit", id: "search" }, t("core.events.search")),
    h("label.inline", live, " ", t("core.events.live")));
  live.addEventListener("change", () => (live.checked ? startLive() : stopLive()));

  root.replaceChildren(h("div.eventspage",
    h("section.eventsmain", form, chart,
      h("div.tablewrap", h("table.events", { id: "events-table" },
        h("thead", h("tr", ...["core.events.time", "core.events.system", "core.events.kind", "core.events.site", "core.events.camera", "core.events.plate", "core.events.sev"].map((k) => h("th", t(k))))), rows)),
      h("div.tablefoot", info, more)),
    detail));

  function query() {
    const q = { start: fromZoneInput(f.start.value).toISOString(), end: fromZoneInput(f.end.value).toISOString(), limit: 100 };
    if (f.system.value) q.source_systems = f.system.value;
    if (f.kind.value.trim()) q.kinds = f.kind.value.trim();
    if (f.site.value) q.sites = f.site.value;
    if (f.plate.value.trim()) q.attr = `plate=${f.plate.value.trim().toUpperCase()}`;
    return q;
  }

  function row(e, fresh = false) {
    const tr = h("tr", { dataset: { id: e.id }, tabindex: 0, class: fresh ? "fresh" : "",
      onclick: () => open(e, tr), onkeydown: (k) => k.key === "Enter" && open(e, tr) },
      h("td", fmtTime(e.occurred_at)), h("td", e.source_system), h("td.kind", { title: e.kind, dataset: { kind: e.kind } }, kindText(e.kind)),
      h("td", siteName[e.site] || e.site), h("td", cameras[e.camera]?.name || e.camera || ""),
      h("td.plate", e.attributes?.plate || ""), h("td", String(e.severity)));
    return tr;
  }

  let searches = 0;  // a newer search wins: an older answer arriving late is dropped
  async function load(reset) {
    const q = query();
    const mine = reset ? ++searches : searches;
    if (reset) { cursor = null; shown = 0; rows.replaceChildren(); }
    else q.cursor = cursor;
    try {
      const page = await api(v1("events"), { query: q });
      if (mine !== searches) return;
      rows.append(...page.items.map((e) => row(e)));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      info.textContent = t(cursor ? "core.events.count_more" : "core.events.count", { n: shown });
      if (reset) drawCounts(q);
    } catch (e) { toast(errorText(e), "error"); }
  }

  async function drawCounts(q) {
    const span = new Date(q.end) - new Date(q.start);
    const bucket = span <= 6 * 3600e3 ? "minute" : span <= 8 * 86400e3 ? "hour" : "day";
    const { limit, attr, ...cq } = q;
    try {
      const counts = await api(v1("events/counts"), { query: { ...cq, bucket, group_by: "kind" } });
      chartHandle?.destroy();
      chartHandle = countsChart(chart, counts, [Date.parse(q.start), Date.parse(q.end)], undefined, kindText);
    } catch { chart.replaceChildren(); }
  }

  async function open(e, tr) {
    for (const r of rows.querySelectorAll("tr.selected")) r.classList.remove("selected");
    tr?.classList.add("selected");
    const cam = e.camera ? cameras[e.camera] : null;
    const media = h("div.media");
    const canExport = ctx.me.roles.includes("analyst");
    detail.replaceChildren(
      h("h2", { title: e.kind }, `${kindText(e.kind)} · ${siteName[e.site] || e.site}`),
      h("dl", ...[["core.events.time", fmtTime(e.occurred_at)], ["core.events.system", e.source_system], ["core.events.department", e.department],
        ["core.events.camera", cam?.name || e.camera || "—"], ["core.events.severity", e.severity], ["core.events.id", e.id]]
        .flatMap(([k, v]) => [h("dt", t(k)), h("dd", String(v))])),
      h("pre.attrs", JSON.stringify(e.attributes, null, 2)),
      h("div.actions",
        cam && h("button", { id: "open-on-wall", onclick: () => { location.hash = `#/wall?camera=${encodeURIComponent(cam.id)}`; } }, t("core.events.open_wall")),
        cam && h("button", { id: "event-play", onclick: () => openPlayer(cam.id, { name: cam.name, at: Date.parse(e.occurred_at) / 1000 - 10, transport: localStorage.getItem("cityhub.video_transport") || ctx.config.video_transport || "auto" }) }, t("recording.play_before")),
        cam && h("button.ghost", { id: "event-snapshot", onclick: () => snapshot(cam, media) }, t("core.events.snapshot")),
        cam && h("button.ghost", { id: "event-clip", onclick: () => clip(cam, media) }, t("core.events.clip")),
        canExport && h("button.ghost", { id: "export-evidence", onclick: () => exportEvidence(e) }, t("core.events.export")),
        h("a.button", { id: "event-incident", href: `#/incidents?new=1&event=${e.id}&kind=${encodeURIComponent(e.kind)}&site=${encodeURIComponent(e.site)}` }, t("incidents.new"))),
      media);
    detail.dataset.event = e.id;
    showPictures(e, media);
  }

  /** The event's own pictures (snapshots, plates) from the hub, each access audited. */
  async function showPictures(e, media) {
    const shown = (e.media || []).map((m, i) => [m, i]).filter(([m]) => ["snapshot", "picture", "plate"].includes(m.kind));
    for (const [m, i] of shown) {
      try {
        const r = await authFetch(v1(`events/${e.id}/media/${i}`));
        if (!r.ok) throw new Error(r.status);
        if (detail.dataset.event !== e.id) return;  // another event was opened meanwhile
        media.append(h("figure", h("img", { src: URL.createObjectURL(await r.blob()), alt: m.kind }),
          h("figcaption.muted", `${m.kind}${m.sha256 ? ` · sha256 ${m.sha256.slice(0, 12)}…` : ""}`)));
      } catch (err) {
        media.append(h("p.muted", t("core.events.media_missing", { kind: m.kind, error: err.message })));
      }
    }
  }

  async function snapshot(cam, media) {
    try {
      const tok = (await playToken(cam.id, ["snapshot"])).token;
      const r = await fetch(`/ui/relay/snapshot/${encodeURIComponent(cam.id)}.jpg`, { headers: { Authorization: `Bearer ${tok}` } });
      if (!r.ok) throw new Error(t("core.events.snapshot_failed", { status: r.status }));
      media.replaceChildren(h("img", { src: URL.createObjectURL(await r.blob()), alt: cam.name }));
    } catch (err) { toast(err.message, "error"); }
  }

  async function clip(cam, media) {
    media.replaceChildren(h("p.muted", t("core.events.clipping")));
    try {
      const tok = (await playToken(cam.id, ["clip"])).token;
      const auth = { Authorization: `Bearer ${tok}` };
      const r = await fetch(`/ui/relay/clips/${encodeURIComponent(cam.id)}`, { method: "POST",
        headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ pre_s: 5, post_s: 5 }) });
      if (!r.ok) throw new Error(t("core.events.clip_failed", { status: r.status }));
      const c = await r.json();
      const file = await fetch(`/ui/relay${c.url}`, { headers: auth });
      if (!file.ok) throw new Error(t("core.events.clip_failed", { status: file.status }));
      media.replaceChildren(h("video", { src: URL.createObjectURL(await file.blob()), controls: true, autoplay: true, muted: true }),
        h("p.muted", `${c.duration_s} s · sha256 ${String(c.sha256).slice(0, 16)}…`));
    } catch (err) { media.replaceChildren(); toast(err.message, "error"); }
  }

  async function exportEvidence(e) {
    try {
      const r = await authFetch(v1(`events/${e.id}/evidence`), { method: "POST" });
      if (!r.ok) throw new Error(t("core.events.export_failed", { status: r.status }));
      download(await r.blob(), `evidence-${e.id}.zip`);
      toast(t("core.events.exported"));
    } catch (err) { toast(err.message, "error"); }
  }

  const liveSeen = new Set();  // the stream delivers at least once (it resumes after drops)
  function startLive() {
    abort = new AbortController();
    streamEvents(v1("live/events?seconds=3600"), (type, e) => {
      if (type === "end") { toast(t("core.events.live_ended", { reason: e.reason }), "warn"); live.checked = false; return; }
      if (type === "gap") { toast(t("core.events.live_gap", { since: fmtTime(e.since) }), "warn"); return; }
      if (type !== "event" || liveSeen.has(e.id)) return;
      liveSeen.add(e.id);
      if (liveSeen.size > 5000) liveSeen.delete(liveSeen.values().next().value);
      if (!matches(e)) return;
      rows.prepend(row(e, true));
      while (rows.children.length > MAX_ROWS) rows.lastChild.remove();  // runs for days
      shown++;
      info.textContent = t("core.events.count_live", { n: shown });
    }, abort.signal).catch((err) => { if (err.name !== "AbortError") { toast(t("core.events.live_ended", { reason: err.message }), "warn"); live.checked = false; } });
  }
  /** The form's filters applied to a live event (the stream carries all the user may see). */
  function matches(e) {
    const plate = f.plate.value.trim().toUpperCase();
    return (!f.system.value || e.source_system === f.system.value)
      && (!f.kind.value.trim() || e.kind === f.kind.value.trim())
      && (!f.site.value || e.site === f.site.value)
      && (!plate || String(e.attributes?.plate || "").toUpperCase() === plate);
  }
  function stopLive() { abort?.abort(); abort = null; }

  await load(true);
  return () => { stopLive(); chartHandle?.destroy(); closePlayer(); };
}
