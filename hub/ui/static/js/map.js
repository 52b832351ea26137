// Map of sites, cameras and sensors with their state, over the city's base layer (ui.basemap,
// through the hub; none: a plain dark background). Cameras and sensors cluster when zoomed
// out (leaflet.markercluster); a camera whose heading is known shows its field of view.
import { api, v1 } from "./api.js";
import { addBasemap, leafletWithClusters } from "./basemap.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

const STATE_COLOR = { live: "#43a047", idle: "#78909c", connecting: "#fbc02d", failed: "#e53935", offline: "#e53935" };
const CONE_ZOOM = 15;  // cones from this zoom on (below it they are specks on a cluster)
const CONE_M = 70;  // how far a cone reaches, metres
const DEFAULT_FOV = 60;

/** The field-of-view cone of a camera at `ll` looking at `heading` (degrees from north). */
export function cone(ll, heading, fov = DEFAULT_FOV, metres = CONE_M) {
  const [lat, lon] = ll;
  const dLat = metres / 111320, dLon = metres / (111320 * Math.cos((lat * Math.PI) / 180));
  const pts = [ll];
  const steps = Math.max(4, Math.ceil(fov / 10));
  for (let i = 0; i <= steps; i++) {
    const a = ((heading - fov / 2 + (fov * i) / steps) * Math.PI) / 180;
    pts.push([lat + dLat * Math.cos(a), lon + dLon * Math.sin(a)]);
  }
  return pts;
}

function dot(L, cls, colour, title) {
  return L.divIcon({ className: cls, iconSize: [14, 14], iconAnchor: [7, 7],
    html: `<span class="dot-in" style="background:${colour}" title="${title.replace(/"/g, "&quot;")}"></span>` });
}

export async function mapPage(root, ctx) {
  const [L, sites, cameras, sensors] = await Promise.all([leafletWithClusters(),
    api(v1("sites")), api(v1("cameras")), api(v1("sensors"))]);
  const health = Object.fromEntries((await api("/ui/relay/health").catch(() => [])).map((c) => [c.camera_id, c]));
  const latest = await api(v1("readings/latest")).catch(() => []);
  const el = h("div.map", { id: "map" });
  const legend = h("div.legend",
    h("span", h("i.sq"), " ", t("core.map.site")), h("span", h("i.cam"), " ", t("core.map.camera")),
    h("span", h("i.fov"), " ", t("map.fov")), h("span", h("i.sen"), " ", t("core.map.sensor")),
    h("span", h("i.cluster"), " ", t("map.cluster")));
  root.replaceChildren(h("div.mappage", legend, el));

  const map = L.map(el, { zoomControl: true, attributionControl: !!ctx.config.basemap, maxZoom: 19 });
  el.leafletMap = map;  // for automation (tests zoom out to see clusters)
  addBasemap(map, ctx.config);
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
  const group = L.markerClusterGroup({ maxClusterRadius: 45, disableClusteringAtZoom: 16,
    showCoverageOnHover: false, spiderfyOnMaxZoom: true });
  const cones = L.layerGroup();
  for (const c of cameras) {
    if (!c.location) continue;
    const ll = [c.location.lat, c.location.lon];
    const hl = health[c.id];
    const state = hl ? hl.state : "unknown";
    const colour = STATE_COLOR[state] || "#9e9e9e";
    const popup = h("div", h("b", c.name), h("br"), `${siteName[c.site] || c.site} · ${c.department}`, h("br"),
      `${t("core.map.state")}: ${t(`core.state.${state}`)}${hl && hl.fps ? ` · ${hl.fps} fps` : ""}`, h("br"),
      c.heading != null ? h("span", t("map.heading", { deg: Math.round(c.heading), fov: Math.round(c.fov || DEFAULT_FOV) }), h("br")) : "",
      h("a", { href: `#/wall?camera=${encodeURIComponent(c.id)}` }, t("core.map.open_wall")));
    points.push(ll);
    group.addLayer(L.marker(ll, { icon: dot(L, `cam-marker cam-${c.id}`, colour, c.name), keyboard: false }).bindPopup(popup));
    if (c.heading != null) {
      cones.addLayer(L.polygon(cone(ll, c.heading, c.fov || DEFAULT_FOV), { color: colour, weight: 1,
        fillOpacity: 0.25, interactive: false, className: `fov fov-${c.id}` }));
    }
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
    group.addLayer(L.marker([s.location.lat, s.location.lon], { icon: dot(L, `sen-marker sen-${s.id}`, fresh ? "#ffb300" : "#6d4c41", s.id),
      keyboard: false }).bindPopup(popup));
  }
  L.control.scale({ imperial: false }).addTo(map);
  if (points.length) map.fitBounds(points, { padding: [40, 40], maxZoom: 16 });
  else map.setView([0, 0], 2);
  // Only once the map has its view (and its renderer is in place): clusters are computed
  // for the view, and the first zoomend fires before the map's renderer exists.
  map.addLayer(group);
  const showCones = () => { if (map.getZoom() >= CONE_ZOOM) cones.addTo(map); else cones.remove(); };
  map.on("zoomend", showCones);
  showCones();
  el.dataset.ready = "true";
  return () => map.remove();
}
