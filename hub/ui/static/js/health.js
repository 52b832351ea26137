// Camera health: the relay's state per camera the user may watch, refreshed every 5 s,
// with events per hour at each camera's site from the store's aggregates.
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, t } from "./i18n.js";
import { countsChart } from "./charts.js";

export async function healthPage(root) {
  const cameras = await api(v1("cameras"));
  const body = h("tbody");
  const summary = h("div.summary", { id: "health-summary" });
  const chart = h("div.chart");
  root.replaceChildren(h("div.healthpage",
    h("h2", t("core.nav.health")), summary,
    h("div.tablewrap", h("table.health", { id: "health-table" },
      h("thead", h("tr", ...["core.events.camera", "core.events.site", "core.events.department", "core.health.state", "core.health.codec", "core.health.fps", "core.health.bitrate", "core.health.last_frame", "core.health.viewers", "core.health.reconnects", "core.health.error"].map((k) => h("th", t(k))))),
      body)),
    h("h3", t("core.health.per_hour")), chart));

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
