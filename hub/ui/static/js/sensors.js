// Sensors: latest values and a chart per sensor metric from the store's aggregates
// (minute buckets up to 6 h, hour buckets beyond: avg with a min-max band).
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, fmtTime, t } from "./i18n.js";
import { seriesChart } from "./charts.js";

const RANGES = { "core.range.1h": 3600e3, "core.range.6h": 6 * 3600e3, "core.range.24h": 86400e3, "core.range.7d": 7 * 86400e3 };

export async function sensorsPage(root) {
  const sensors = await api(v1("sensors"));
  const latest = await api(v1("readings/latest")).catch(() => []);
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("sensor");
  const chart = h("div.chart.big", { id: "sensor-chart" });
  const title = h("h3");
  let range = 6 * 3600e3, sel = null, handle = null;

  const filter = h("input.search", { type: "search", placeholder: t("core.sensors.filter"), oninput: () => {
    const q = filter.value.toLowerCase();
    for (const el of list.children) el.hidden = q && !el.textContent.toLowerCase().includes(q);
  } });
  const list = h("div.sensorlist", ...sensors.map((s) => {
    const values = latest.filter((r) => r.sensor === s.id);
    return h("div.sensor", { dataset: { sensor: s.id } },
      h("div.sname", `${s.id}`, h("span.muted", ` ${s.kind || ""} · ${s.site}`)),
      values.length ? h("div.metrics", ...values.map((r) => h("button.ghost", {
        title: fmtTime(r.time), onclick: () => show(s.id, r.metric) }, `${r.metric} ${r.value}${r.unit ? " " + r.unit : ""}`)))
        : h("div.muted", t("core.no_readings")));
  }));
  root.replaceChildren(h("div.sensorspage",
    h("aside.sidebar", h("h2", t("core.nav.sensors")), filter, sensors.length ? list : h("p.muted", t("core.sensors.none"))),
    h("section.sensormain",
      h("div.toolbar", title, h("span.spacer"), ...Object.entries(RANGES).map(([label, ms]) =>
        h("button.ghost", { onclick: () => { range = ms; if (sel) show(...sel); } }, t(label)))),
      chart)));

  async function show(sensor, metric) {
    sel = [sensor, metric];
    const end = new Date();
    const start = new Date(end - range);
    const bucket = range <= 6 * 3600e3 ? "minute" : "hour";
    title.textContent = t("core.sensors.title", { sensor, metric, bucket: t(`core.bucket.${bucket}`) });
    try {
      const points = await api(v1("readings/series"), { query: { sensor, metric, start: start.toISOString(), end: end.toISOString(), bucket } });
      handle?.destroy();
      if (!points.length) { chart.replaceChildren(h("p.muted", t("core.sensors.empty"))); return; }
      handle = seriesChart(chart, points, metric, [start.getTime(), end.getTime()]);
    } catch (e) { toast(errorText(e), "error"); }
  }

  const first = latest.find((r) => !wanted || r.sensor === wanted);
  if (first) show(first.sensor, first.metric);
  return () => handle?.destroy();
}
