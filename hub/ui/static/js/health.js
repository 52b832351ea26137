// Camera health: the relay's state per camera the user may watch, refreshed every 5 s,
// with events per hour at each camera's site from the store's aggregates, and recording:
// per camera whether it records and what is kept, per storage path the disk used and free.
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, fmtTime, t } from "./i18n.js";
import { countsChart } from "./charts.js";

export async function healthPage(root) {
  const cameras = await api(v1("cameras"));
  const body = h("tbody");
  const summary = h("div.summary", { id: "health-summary" });
  const chart = h("div.chart");
  const recSection = recording(cameras);
  root.replaceChildren(h("div.healthpage",
    h("h2", t("core.nav.health")), summary,
    h("div.tablewrap", h("table.health", { id: "health-table" },
      h("thead", h("tr", ...["core.events.camera", "core.events.site", "core.events.department", "core.health.state", "core.health.codec", "core.health.fps", "core.health.bitrate", "core.health.last_frame", "core.health.viewers", "core.health.reconnects", "core.health.error"].map((k) => h("th", t(k))))),
      body)),
    h("h3", t("core.health.per_hour")), chart,
    h("h3", t("recording.health.title")), recSection.el));

  async function refresh() {
    let health = [];
    try { health = await api("/ui/relay/health"); } catch (e) { summary.textContent = t("core.health.relay_error", { error: e.message }); }
    const seen = new Map(health.map((x) => [x.camera_id, x]));
    const counts = { live: 0, idle: 0, failed: 0, other: 0 };
    body.replaceChildren(...cameras.map((c) => {
      const x = seen.get(c.id);
      const state = x ? x.state : "not_relayed";
      counts[state in counts ? state : "other"]++;
      return h("tr", { dataset: { camera: c.id, state } },
        h("td", c.name), h("td", c.site), h("td", c.department),
        h("td", h("span", { class: `pill ${state}` }, t(`core.state.${state}`))), h("td", x?.codec || ""),
        h("td", x ? String(x.fps) : ""), h("td", x ? `${Math.round((x.bitrate_bps || 0) / 1000)} kb/s` : ""),
        h("td", x?.last_frame_age_s == null ? "" : t("core.health.ago", { s: x.last_frame_age_s })),
        h("td", x ? String(x.viewers) : ""), h("td", x ? String(x.upstream_connects) : ""),
        h("td.err", x?.error || ""));
    }));
    summary.replaceChildren(...Object.entries(counts).map(([k, n]) => h("span", { class: `pill ${k}` }, `${n} ${t(`core.state.${k}`)}`)));
    await recSection.refresh();
  }

  const end = new Date();
  const start = new Date(end - 86400e3);
  try {
    countsChart(chart, await api(v1("events/counts"), { query: { start: start.toISOString(), end: end.toISOString(),
      bucket: "hour", group_by: "site" } }), [start.getTime(), end.getTime()]);
  } catch (e) { if (e.status !== 403) toast(errorText(e), "error"); }
  await refresh();
  const timer = setInterval(refresh, 5000);
  return () => clearInterval(timer);
}

/** 812 MB, 1.25 GB, 250 GB. */
function size(n) {
  const gb = n / 1024 ** 3;
  return gb < 1 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${gb.toFixed(gb < 10 ? 2 : 1)} GB`;
}

/** Recording state per camera and disk per storage path (/ui/relay/recordings). */
function recording(cameras) {
  const body = h("tbody");
  const disks = h("div.disks", { id: "recording-storage" });
  const note = h("p.muted");
  const el = h("div.recording", note,
    h("div.tablewrap", h("table.health", { id: "recording-table" },
      h("thead", h("tr", ...["core.events.camera", "recording.health.mode", "recording.health.state", "recording.health.kept", "recording.health.segments", "recording.health.size", "core.health.error"].map((k) => h("th", t(k))))),
      body)),
    disks);

  async function refresh() {
    let rec;
    try { rec = await api("/ui/relay/recordings"); note.textContent = ""; } catch (e) {
      note.textContent = t("core.health.relay_error", { error: errorText(e) });
      return;
    }
    const recorded = cameras.filter((c) => rec.cameras[c.id]);
    body.replaceChildren(...recorded.map((c) => {
      const x = rec.cameras[c.id];
      const state = x.blocked ? "blocked" : x.recording ? "recording" : "stopped";
      return h("tr", { dataset: { camera: c.id, state } },
        h("td", c.name), h("td", t(`recording.mode.${x.mode}`)),
        h("td", h("span", { class: `pill ${state === "recording" ? "live" : state === "blocked" ? "failed" : ""}` }, t(`recording.state.${state}`))),
        h("td", x.oldest == null ? "" : `${fmtTime(x.oldest * 1000)} – ${fmtTime(x.newest * 1000)}`),
        h("td", String(x.segments)), h("td", size(x.bytes)), h("td.err", x.last_error || ""));
    }));
    if (!recorded.length) body.replaceChildren(h("tr", h("td", { colspan: 7 }, t("recording.health.none"))));
    disks.replaceChildren(...rec.storage.map(disk));
  }
  return { el, refresh };
}

/** One storage path as a bar: recordings, other use, free (of the disk's total). */
function disk(d) {
  const total = d.total_bytes || 1;
  const other = Math.max(0, total - d.free_bytes - d.recordings_bytes);
  const part = (cls, n, title) => {
    const el = h(`span.${cls}`, { title });
    el.style.width = `${(100 * n) / total}%`;
    return el;
  };
  return h("div.disk", { dataset: { path: d.path, usable: d.usable } },
    h("div.diskname", h("code", d.path), d.node ? h("span.muted", ` · ${d.node}`) : null,
      d.usable ? null : h("span.pill.failed", t("recording.health.unusable"))),
    h("div.diskbar",
      part("rec", d.recordings_bytes, t("recording.health.recordings", { size: size(d.recordings_bytes) })),
      part("other", other, t("recording.health.other", { size: size(other) }))),
    h("div.muted", t("recording.health.disk", { rec: size(d.recordings_bytes), used: size(total - d.free_bytes), free: size(d.free_bytes), total: size(total) })
      + (d.quota_bytes ? ` · ${t("recording.health.quota", { size: size(d.quota_bytes) })}` : "")));
}
