// Incident statistics: counts by kind, department and site, the share handled on time,
// time to acknowledge and to close, per day; CSV and Excel export.
import uPlot from "/ui/vendor/uplot/uPlot.esm.js";
import { api, authFetch, v1 } from "./api.js";
import { download, h, toast } from "./dom.js";
import { fmtDuration, fromZoneInput, loadStrings, t, ZONE, zoneInput } from "./i18n.js";

const AXIS = { stroke: "#9aa5b1", grid: { stroke: "#2a323c" }, ticks: { stroke: "#2a323c" } };

function bars(el, rows, height = 180) {
  el.replaceChildren();
  if (!rows.length) return null;
  const xs = rows.map((_, i) => i);
  return new uPlot({
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), ZONE),
    width: Math.max(280, el.clientWidth || 400), height,
    scales: { x: { time: false }, y: { range: (u, lo, hi) => [0, Math.max(1, hi) * 1.1] } },
    series: [{}, { label: "n", stroke: "#4fc3f7", fill: "#4fc3f799", paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } }],
    axes: [{ ...AXIS, values: (u, ticks) => ticks.map((i) => rows[i]?.key ?? "") }, { ...AXIS, size: 40 }],
    legend: { show: false },
  }, [xs, rows.map((r) => r.count)], el);
}

export async function incidentStatsPage(root) {
  await loadStrings();
  const until = new Date(), since = new Date(until - 30 * 86400e3);
  const from = h("input", { id: "st-since", type: "datetime-local", value: zoneInput(since) });
  const to = h("input", { id: "st-until", type: "datetime-local", value: zoneInput(until) });
  const body = h("div.statbody", { id: "st-body" });
  const plots = [];
  const query = () => ({ since: fromZoneInput(from.value).toISOString(), until: fromZoneInput(to.value).toISOString() });
  const exp = async (format) => {
    const q = new URLSearchParams({ ...query(), format });
    const r = await authFetch(v1(`incident-stats/export?${q}`));
    if (!r.ok) return toast(r.statusText, "error");
    download(await r.blob(), `incidents.${format}`);
  };
  const load = async () => {
    for (const p of plots.splice(0)) p?.destroy();
    const s = await api(v1("incident-stats"), { query: query() });
    const card = (k, v) => h("div.statcard", h("div.muted", t(k)), h("div.big", v));
    const charts = ["per_day", "by_kind", "by_department", "by_assignee", "by_site"].map((k) => [k, h("div.statchart")]);
    body.replaceChildren(
      h("div.statcards",
        card("incidents.stats.total", String(s.totals.total)),
        card("incidents.stats.on_time", s.on_time_share == null ? "—" : `${Math.round(s.on_time_share * 100)}%`),
        card("incidents.stats.ack", s.totals.ack_p50 == null ? "—" : fmtDuration(s.totals.ack_p50)),
        card("incidents.stats.close", s.totals.close_p50 == null ? "—" : fmtDuration(s.totals.close_p50))),
      h("div.statgrid", charts.map(([k, el]) => h("section", { dataset: { chart: k } }, h("h3", t(`incidents.stats.${k}`)), el))));
    for (const [k, el] of charts) {
      const rows = k === "per_day" ? s.per_day.map((d) => ({ key: d.day.slice(5, 10), count: d.count })) : s[k];
      plots.push(bars(el, rows));
    }
  };
  root.replaceChildren(h("div.incpage",
    h("div.toolbar", h("b", t("incidents.stats.title")), h("label.inline", t("incidents.stats.since"), from),
      h("label.inline", t("incidents.stats.until"), to), h("button", { onclick: load }, t("incidents.stats.apply")),
      h("button", { id: "st-csv", onclick: () => exp("csv") }, t("incidents.stats.csv")),
      h("button", { id: "st-xlsx", onclick: () => exp("xlsx") }, t("incidents.stats.xlsx"))),
    body));
  await load();
  return () => { for (const p of plots) p?.destroy(); };
}
