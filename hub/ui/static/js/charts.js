// Charts on uPlot (served locally from /ui/vendor): event counts per kind, sensor series.
import uPlot from "/ui/vendor/uplot/uPlot.esm.js";
import { t, ZONE } from "./i18n.js";

/** Time axes read in the city's zone, not the workstation's. */
const tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), ZONE);

const COLORS = ["#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#90a4ae", "#4db6ac"];
const AXIS = { stroke: "#9aa5b1", grid: { stroke: "#2a323c" }, ticks: { stroke: "#2a323c" } };

function size(el, height) { return { width: Math.max(300, el.clientWidth || 600), height }; }

function resizing(el, plot, height) {
  let width = el.clientWidth;
  const ro = new ResizeObserver(() => {  // follow the container's width only (no feedback loop)
    if (Math.abs(el.clientWidth - width) < 4) return;
    width = el.clientWidth;
    plot.setSize(size(el, height));
  });
  ro.observe(el);
  return { destroy() { ro.disconnect(); plot.destroy(); } };
}

/** Stacked-free lines of counts per group over time buckets ([{bucket, group, n}]). */
export function countsChart(el, counts, range = null, height = 140, label = (g) => g) {
  el.replaceChildren();
  if (!counts.length) return null;
  const times = [...new Set(counts.map((c) => Date.parse(c.bucket) / 1000))].sort((a, b) => a - b);
  const groups = [...new Set(counts.map((c) => c.group ?? "all"))];
  const idx = new Map(times.map((x, i) => [x, i]));
  const data = [times, ...groups.map(() => times.map(() => 0))];
  for (const c of counts) data[1 + groups.indexOf(c.group ?? "all")][idx.get(Date.parse(c.bucket) / 1000)] += c.n;
  const plot = new uPlot({
    ...size(el, height),
    tzDate,
    series: [{ label: t("core.events.time") }, ...groups.map((g, i) => ({ label: label(g), stroke: COLORS[i % COLORS.length], width: 1,
      fill: COLORS[i % COLORS.length] + "99", paths: uPlot.paths.bars({ size: [0.8, 24] }),
      points: { show: false } }))],
    scales: { y: { range: (u, lo, hi) => [0, Math.max(1, hi) * 1.1] },
      ...(range ? { x: { time: true, range: () => [range[0] / 1000, range[1] / 1000] } } : {}) },
    axes: [AXIS, { ...AXIS, size: 40 }],
    legend: { live: false },
  }, data, el);
  return resizing(el, plot, height);
}

/** avg with a min-max band of one sensor metric ([{time, avg, min, max}]). */
export function seriesChart(el, points, label, range = null, height = 260) {
  el.replaceChildren();
  const times = points.map((p) => Date.parse(p.time) / 1000);
  const plot = new uPlot({
    ...size(el, height),
    tzDate,
    series: [{ label: t("core.events.time") }, { label: `${label} min`, stroke: "#37474f", points: { show: false } },
      { label: `${label} max`, stroke: "#37474f", points: { show: false } },
      { label, stroke: "#4fc3f7", width: 2, points: { show: points.length < 60 } }],
    bands: [{ series: [2, 1], fill: "rgba(79,195,247,0.15)" }],
    scales: range ? { x: { time: true, range: () => [range[0] / 1000, range[1] / 1000] } } : {},
    axes: [AXIS, { ...AXIS, size: 50 }],
  }, [times, points.map((p) => p.min), points.map((p) => p.max), points.map((p) => p.avg)], el);
  return resizing(el, plot, height);
}
