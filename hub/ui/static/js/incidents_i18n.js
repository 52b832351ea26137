// The incidents area's strings (i18n/incidents.json, {"en": {}, "zh-CN": {}}) through t(),
// and times in the city's zone. Language: localStorage "cityhub.lang", else the browser's.
let catalogue = { en: {}, "zh-CN": {} };
export let lang = "en";
export const ZONE = "Asia/Shanghai";

export async function loadStrings() {
  catalogue = await fetch("/ui/i18n/incidents.json").then((r) => r.json());
  const want = localStorage.getItem("cityhub.lang") || navigator.language || "en";
  lang = want.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** The string of `key` in the current language (English, then the key, when missing). */
export function t(key, params = {}) {
  const s = catalogue[lang]?.[key] ?? catalogue.en?.[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ""));
}

export function fmtTime(iso, zone = ZONE) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(lang, { timeZone: zone, hour12: false });
}

/** 1 h 02 min / 3 min 05 s: a duration in seconds, for countdowns. */
export function fmtDuration(s) {
  s = Math.abs(Math.round(s));
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(s % 60).padStart(2, "0")}s`;
}
