// The shell: login, who am I, hash routes (#/wall, #/events, #/map, #/health, #/sensors).
import { api, login, logout, signedIn, v1 } from "./api.js";
import { fmtClock, toast } from "./dom.js";

const PAGES = {
  wall: () => import("./wall.js").then((m) => m.wallPage),
  events: () => import("./events.js").then((m) => m.eventsPage),
  map: () => import("./map.js").then((m) => m.mapPage),
  health: () => import("./health.js").then((m) => m.healthPage),
  sensors: () => import("./sensors.js").then((m) => m.sensorsPage),
  incidents: () => import("./incidents.js").then((m) => m.incidentsPage),
  "incident-stats": () => import("./incident_stats.js").then((m) => m.incidentStatsPage),
};
const ctx = { me: null, config: {} };
let leave = null;

async function route() {
  if (!signedIn()) return showLogin();
  const name = (location.hash.slice(2).split("?")[0] || "wall");
  const page = PAGES[name] ? name : "wall";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (leave) { try { leave(); } catch { /* page already gone */ } leave = null; }
  const root = document.getElementById("page");
  root.dataset.page = page;
  root.replaceChildren();
  try {
    leave = (await (await PAGES[page]())(root, ctx)) || null;
  } catch (e) {
    if (e.status !== 401) { root.textContent = `Could not load this page: ${e.message}`; toast(e.message, "error"); }
  }
}

async function enter() {
  ctx.me = await api(v1("auth/me"));
  ctx.config = await fetch("/ui/config.json").then((r) => r.json()).catch(() => ({}));
  document.getElementById("who").textContent = `${ctx.me.name} · ${ctx.me.department} · ${ctx.me.roles.join(", ")}`;
  await import("./incidents_i18n.js").then(async (m) => {
    await m.loadStrings();
    document.querySelector('#nav a[data-page="incidents"]').textContent = m.t("incidents.nav");
    document.querySelector('#nav a[data-page="incident-stats"]').textContent = m.t("incidents.nav.stats");
  }).catch(() => {});
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
    document.getElementById("login-error").textContent = err.message;
  } finally { button.disabled = false; }
});
document.getElementById("logout").addEventListener("click", async () => { await logout(); showLogin(); });
window.addEventListener("cityhub:signed-out", () => showLogin("Your session ended: sign in again."));
window.addEventListener("hashchange", () => { if (signedIn()) route(); });
setInterval(() => { document.getElementById("clock").textContent = fmtClock(new Date()); }, 1000);

if (signedIn()) enter().catch(() => showLogin()); else showLogin();
