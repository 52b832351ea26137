// The shell: login, who am I, hash routes (#/wall, #/events, #/map, #/health, #/sensors, ...).
// A nav entry with data-roles is shown, and its page opened, only for a caller holding one.
import { api, login, logout, signedIn, v1 } from "./api.js";
import { toast } from "./dom.js";
import { errorText, fmtClock, LANGUAGES, lang, loadStrings, setLanguage, t, translateStatic } from "./i18n.js";

const PAGES = {
  wall: () => import("./wall.js").then((m) => m.wallPage),
  events: () => import("./events.js").then((m) => m.eventsPage),
  map: () => import("./map.js").then((m) => m.mapPage),
  health: () => import("./health.js").then((m) => m.healthPage),
  sensors: () => import("./sensors.js").then((m) => m.sensorsPage),
  incidents: () => import("./incidents.js").then((m) => m.incidentsPage),
  "incident-stats": () => import("./incident_stats.js").then((m) => m.incidentStatsPage),
  sharing: () => import("./sharing.js").then((m) => m.sharingPage),
  users: () => import("./users.js").then((m) => m.usersPage),
  audit: () => import("./audit.js").then((m) => m.auditPage),
  "pending-cameras": () => import("./pending.js").then((m) => m.pendingPage),
  cascade: () => import("./cascade.js").then((m) => m.cascadePage),
  sites: () => import("./sites.js").then((m) => m.sitesPage),
  "dead-letters": () => import("./dead_letters.js").then((m) => m.deadLettersPage),
};
const ctx = { me: null, config: {} };
let leave = null;

/** Whether the caller may open `page`: its nav entry's data-roles, when it has one. */
function allowed(page) {
  const roles = document.querySelector(`#nav a[data-page="${page}"]`)?.dataset.roles;
  return !roles || roles.split(" ").some((r) => ctx.me?.roles.includes(r));
}

let visit = 0; // the latest navigation: a slower page opened before it must not take over

async function route() {
  if (!signedIn()) return showLogin();
  const name = (location.hash.slice(2).split("?")[0] || "wall");
  const page = PAGES[name] && allowed(name) ? name : "wall";
  const mine = ++visit;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (leave) { try { leave(); } catch { /* page already gone */ } leave = null; }
  const root = document.getElementById("page");
  root.dataset.page = page;
  root.replaceChildren();
  const holder = document.createElement("div"); // this visit's content, dropped if overtaken
  holder.className = "page-body";
  root.append(holder);
  try {
    const left = (await (await PAGES[page]())(holder, ctx)) || null;
    if (mine === visit) leave = left;
    else if (left) left(); // overtaken while loading: stop what it started
  } catch (e) {
    if (mine === visit && e.status !== 401) { holder.textContent = t("core.page_failed", { error: errorText(e) }); toast(errorText(e), "error"); }
  }
}

async function enter() {
  ctx.me = await api(v1("auth/me"));
  ctx.config = await fetch("/ui/config.json").then((r) => r.json()).catch(() => ({}));
  await loadStrings(ctx.config);
  translateStatic();
  for (const a of document.querySelectorAll("#nav a[data-roles]")) a.hidden = !allowed(a.dataset.page);
  document.getElementById("who").textContent = `${ctx.me.name} · ${ctx.me.department} · ${ctx.me.roles.join(", ")}`;
  document.getElementById("login").hidden = true;
  document.getElementById("shell").hidden = false;
  await route();
}

function showLogin(message = "") {
  if (leave) { leave(); leave = null; }
  document.getElementById("shell").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
  document.getElementById("login-user").focus();
}

document.getElementById("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const button = document.getElementById("login-submit");
  button.disabled = true;
  try {
    await login(f.get("username"), f.get("password"));
    document.getElementById("login-password").value = "";
    await enter();
  } catch (err) {
    document.getElementById("login-error").textContent = errorText(err);
  } finally { button.disabled = false; }
});
document.getElementById("logout").addEventListener("click", async () => { await logout(); showLogin(); });
window.addEventListener("cityhub:signed-out", () => showLogin(t("core.session_ended")));
window.addEventListener("hashchange", () => { if (signedIn()) route(); });
setInterval(() => { document.getElementById("clock").textContent = fmtClock(new Date()); }, 1000);

const languages = document.getElementById("language");
languages.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) => new Option(name, code)));
languages.addEventListener("change", () => setLanguage(languages.value));
loadStrings().then(() => { languages.value = lang; translateStatic(); }).finally(() => {
  if (signedIn()) enter().catch(() => showLogin()); else showLogin();
});
