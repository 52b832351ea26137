// The map's base layer (ui.basemap), always through the hub: /api/v1/map/tiles/{z}/{x}/{y}
// with the user's token (an <img> cannot send one), so workstations need no internet and
// the city's GIS address stays on the hub. Also the marker-cluster plugin, loaded once.
import * as Leaflet from "/ui/vendor/leaflet/leaflet-src.esm.js";
import { authFetch } from "./api.js";

/** A tile layer whose tiles are fetched with the access token and shown from blobs. */
const HubTiles = Leaflet.TileLayer.extend({
  createTile(coords, done) {
    const img = document.createElement("img");
    img.alt = "";
    img.setAttribute("role", "presentation");
    authFetch(this.getTileUrl(coords)).then(async (r) => {
      if (!r.ok) throw new Error(`tile ${r.status}`);
      const url = URL.createObjectURL(await r.blob());
      img.onload = () => { URL.revokeObjectURL(url); done(null, img); };
      img.onerror = () => { URL.revokeObjectURL(url); done(new Error("tile not an image"), img); };
      img.src = url;
    }).catch((e) => done(e, img));
    return img;
  },
});

/** Adds the configured base layer to `map` (none configured: the plain background). */
export function addBasemap(map, config) {
  const b = config.basemap;
  if (!b) return null;
  map.attributionControl?.setPrefix(false);
  return new HubTiles(b.url, { minZoom: b.min_zoom, maxNativeZoom: b.max_zoom, maxZoom: Math.max(b.max_zoom, 19),
    attribution: b.attribution || "", className: "basemap" }).addTo(map);
}

let clusters = null;
/** Leaflet with leaflet.markercluster (a classic script extending a global L): resolves to
 * a copy of Leaflet's namespace that has MarkerClusterGroup. */
export function leafletWithClusters() {
  clusters ||= new Promise((resolve, reject) => {
    window.L = { ...Leaflet };  // the ES module's namespace is frozen; the plugin adds to this copy
    const s = document.createElement("script");
    s.src = "/ui/vendor/markercluster/leaflet.markercluster-src.js";
    s.onload = () => resolve(window.L);
    s.onerror = () => reject(new Error("marker clustering unavailable"));
    document.head.append(s);
  });
  return clusters;
}
