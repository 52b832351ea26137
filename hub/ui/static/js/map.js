// Map of sites, cameras and sensors with their state. Leaflet, served locally; no online
// tiles unless ui.tile_url is configured (government networks): a plain dark background.
import * as L from "/ui/vendor/leaflet/leaflet-src.esm.js";
import { api, v1 } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

const STATE_COLOR = { live: "#43a047", idle: "#78909c", connecting: "#fbc02d", failed: "#e53935", offline: "#e53935" };

export async function mapPage(root, ctx) {
  const [sites, cameras, sensors] = await Promise.all([api(v1("sites")), api(v1("cameras")), api(v1("sensors"))]);
  const health = Object.fromEntries((await api("/ui/relay/health").catch(() => [])).map((c) => [c.camera_id, c]));
  const latest = await api(v1("readings/latest")).catch(() => []);
  const el = h("div.map", { id: "map" });
  const legend = h("div.legend",
    h("span", h("i.sq"), " ", t("core.map.site")), h("span", h("i.cam"), " ", t("core.map.camera")),
    h("span", h("i.sen"), " ", t("core.map.sensor")));
  root.replaceChildren(h("div.mappage", legend, el));

  const map = L.map(el, { zoomControl: true, attributionControl: !!ctx.config.tile_url, preferCanvas: false });
  if (ctx.config.tile_url) {
    L.tileLayer(ctx.config.tile_url, { maxZoom: ctx.config.tile_max_zoom || 19, attribution: ctx.config.tile_attribution || "" }).addTo(map);
  }
  const points = [];
  const siteName = Object.fromEntries(sites.map((s) => [s.id, s.name]));
  for (const s of sites) {
    if (!s.location) continue;
    const ll = [s.location.lat, s.location.lon];
    points.push(ll);
    L.circleMarker(ll, { radius: 14, color: "#90caf9", weight: 1, fillOpacity: 0.08 })
      .bindTooltip(s.name, { permanent: true, direction: "top", className: "sitelabel", offset: [0, -12] })
      .addTo(map);
  }
  for (const c of cameras) {
    if (!c.location) continue;
    const hl = health[c.id];
    const state = hl ? hl.state : "unknown";
    const popup = h("div", h("b", c.name), h("br"), `${siteName[c.site] || c.site} · ${c.department}`, h("br"),
      `${t("core.map.state")}: ${t(`core.state.${state}`)}${hl && hl.fps ? ` · ${hl.fps} fps` : ""}`, h("br"),
      h("a", { href: `#/wall?camera=${encodeURIComponent(c.id)}` }, t("core.map.open_wall")));
    points.push([c.location.lat, c.location.lon]);
    L.circleMarker([c.location.lat, c.location.lon], { radius: 7, color: "#fff", weight: 1.5,
      fillColor: STATE_COLOR[state] || "#9e9e9e", fillOpacity: 1, className: `cam-marker cam-${c.id}` })
      .bindPopup(popup).addTo(map);
  }
  for (const s of sensors) {
    if (!s.location) continue;
    const values = latest.filter((r) => r.sensor === s.id);
    const fresh = values.some((r) => Date.now() - Date.parse(r.time) < 15 * 60e3);
    const popup = h("div", h("b", s.id), ` (${s.kind || t("core.map.sensor")})`, h("br"),
      ...values.flatMap((r) => [`${r.metric}: ${r.value}${r.unit ? " " + r.unit : ""}`, h("br")]),
      values.length ? "" : t("core.no_readings"), h("br"),
      h("a", { href: `#/sensors?sensor=${encodeURIComponent(s.id)}` }, t("core.map.chart")));
    points.push([s.location.lat, s.location.lon]);
    L.circleMarker([s.location.lat, s.location.lon], { radius: 6, color: "#000", weight: 1,
      fillColor: fresh ? "#ffb300" : "#6d4c41", fillOpacity: 1 }).bindPopup(popup).addTo(map);
  }
  L.control.scale({ imperial: false }).addTo(map);
  if (points.length) map.fitBounds(points, { padding: [40, 40], maxZoom: 16 });
  else map.setView([0, 0], 2);
  return () => map.remove();
}
