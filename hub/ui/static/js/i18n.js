// The UI's one translation and time-format module. Catalogues come merged from
// /ui/i18n.json ({"en": {...}, "zh-CN": {...}}, one file per area in static/i18n/);
// times are shown in the city's zone (ui.time_zone), whatever the workstation's clock.
// Language: the user's choice (localStorage "cityhub.lang"), else ui.default_language,
// else the browser's (Chinese for any zh-*).
const CHOICE = "cityhub.lang";
export const LANGUAGES = { "zh-CN": "中文", en: "English" };
let catalogue = { en: {}, "zh-CN": {} };
let loading = null;
export let lang = "en";
export let ZONE = "Asia/Shanghai";

/** Loads the catalogue once and settles the language and zone (config from /ui/config.json). */
export function loadStrings(config = null) {
  loading ||= (async () => {
    const [cat, cfg] = await Promise.all([
      fetch("/ui/i18n.json").then((r) => r.json()),
      config ? Promise.resolve(config) : fetch("/ui/config.json").then((r) => r.json()).catch(() => ({})),
    ]);
    catalogue = cat;
    ZONE = cfg.time_zone || ZONE;
    const want = localStorage.getItem(CHOICE) || cfg.default_language || navigator.language || "en";
    lang = want.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
    document.documentElement.lang = lang;
  })();
  return loading;
}

/** Keeps the user's language and reloads the page in it. */
export function setLanguage(next) {
  localStorage.setItem(CHOICE, next);
  location.reload();
}

/** The text of `key` in the current language, `{name}` filled from params. */
export function t(key, params = {}) {
  const s = catalogue[lang]?.[key] ?? catalogue.en?.[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ""));
}

/** An event kind in the user's language (kind.<kind>); a kind the catalogue does not know
 * (a source's own) as the source named it. */
export function kindText(kind) {
  const key = `kind.${kind}`;
  return catalogue[lang]?.[key] ?? catalogue.en?.[key] ?? kind;
}
/** The kinds the catalogue knows (for pickers): [kind, text in the user's language]. */
export const KNOWN_KINDS = () => Object.keys(catalogue.en || {}).filter((k) => k.startsWith("kind."))
  .map((k) => [k.slice(5), kindText(k.slice(5))]).sort((a, b) => a[1].localeCompare(b[1], locale()));

/** An API error's text: its stable code translated (error.<code>), else its detail. */
export function errorText(err) {
  const key = err?.code ? `error.${err.code}` : null;
  return key && (catalogue[lang]?.[key] ?? catalogue.en?.[key]) ? t(key) : (err?.message || String(err));
}

/** Translates every element under `root` carrying data-i18n (text) or data-i18n-title. */
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

const locale = () => (lang === "zh-CN" ? "zh-CN" : "en-GB");
/** Date and time in the city's zone, 24-hour. */
export function fmtTime(iso, zone = ZONE) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(locale(), { timeZone: zone, hour12: false });
}
/** Clock time (hh:mm:ss) in the city's zone. */
export const fmtClock = (d) => d.toLocaleTimeString(locale(), { timeZone: ZONE, hour12: false });

/** 1h 02m / 3m 05s: a duration in seconds, for countdowns. */
export function fmtDuration(s) {
  s = Math.abs(Math.round(s));
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(s % 60).padStart(2, "0")}s`;
}

/** datetime-local value of a Date in the city's zone, and back to an ISO instant. */
export function zoneInput(d) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit" }).formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}
export function fromZoneInput(value) {
  const guess = new Date(`${value}:00Z`);
  const shown = new Date(`${zoneInput(guess)}:00Z`);
  return new Date(guess.getTime() - (shown.getTime() - guess.getTime()));
}
