// A small map for placing one point (a site, a camera): a click moves the marker there and
// fills the latitude/longitude fields; typing in the fields moves the marker. Base layer
// through the hub (basemap.js), as on the map page.
import * as L from "/ui/vendor/leaflet/leaflet-src.esm.js";
import { addBasemap } from "./basemap.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

const round = (x) => Math.round(x * 1e6) / 1e6;

/** `{ el, start(), value(), stop() }`: el holds the map and the fields (named lat, lon);
 * start() once el is in the page; value() the chosen {lat, lon} or null. */
export function placePicker(config, id, at, centre) {
  const lat = h("input", { name: "lat", type: "number", step: "any", min: -90, max: 90, value: at?.lat ?? "" });
  const lon = h("input", { name: "lon", type: "number", step: "any", min: -180, max: 180, value: at?.lon ?? "" });
  const box = h("div.placemap", { id });
  const el = h("fieldset.place", h("legend", t("sites.place.legend")), box,
    h("p.muted", t("sites.place.hint")),
    h("div.latlon", h("label", t("sites.place.lat"), lat), h("label", t("sites.place.lon"), lon)));
  let map = null, marker = null;
  const value = () => (lat.value !== "" && lon.value !== "" ? { lat: Number(lat.value), lon: Number(lon.value) } : null);
  const put = (ll) => {
    if (marker) marker.setLatLng(ll);
    else marker = L.circleMarker(ll, { radius: 8, color: "#ffb300", weight: 2, fillOpacity: 0.6, className: "place-marker" }).addTo(map);
  };
  return {
    el, value,
    start() {
      const here = value();
      map = L.map(box, { zoomControl: true, attributionControl: !!config.basemap, maxZoom: 19 });
      box.leafletMap = map;  // for automation
      addBasemap(map, config);
      map.setView(here ? [here.lat, here.lon] : centre || [0, 0], here || centre ? 16 : 2);
      if (here) put([here.lat, here.lon]);
      map.on("click", (e) => {
        lat.value = round(e.latlng.lat);
        lon.value = round(e.latlng.lng);
        put(e.latlng);
      });
      const typed = () => { const v = value(); if (v && Math.abs(v.lat) <= 90 && Math.abs(v.lon) <= 180) put([v.lat, v.lon]); };
      lat.addEventListener("change", typed);
      lon.addEventListener("change", typed);
      box.dataset.ready = "true";
    },
    stop() { map?.remove(); map = null; },
  };
}
