// PTZ on a wall tile: an on-screen pad (hold an arrow to move, release to stop), zoom
// buttons and the mouse wheel, Home, presets, and the arrow keys while the tile has focus.
// Every command goes through the hub's arbitration (hub/ptz): a higher-priority department
// or a lock answers 409 and the operator is told who holds the camera.
import { api, v1 } from "./api.js";
import { h, toast } from "./dom.js";
import { errorText, t } from "./i18n.js";

const SPEED = 0.5;
const MOVES = { up: [0, SPEED], down: [0, -SPEED], left: [-SPEED, 0], right: [SPEED, 0] };
const KEYS = { ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right" };

/** Adds the pad to ``el`` when the hub can steer ``camera`` and the caller may move it. */
export async function attachPtz(el, camera) {
  let state;
  try {
    state = await api(v1(`cameras/${encodeURIComponent(camera)}/ptz`));
  } catch {
    return null;  // no PTZ for this camera or caller: the tile stays a plain view
  }
  if (!state.supported || !state.may_move) return null;
  const path = (cmd) => v1(`cameras/${encodeURIComponent(camera)}/ptz/${cmd}`);
  const send = async (cmd, body) => {
    try {
      await api(path(cmd), { method: "POST", body: body ?? {} });
      el.dataset.ptz = cmd;
    } catch (e) {
      el.dataset.ptz = `refused:${e.code || e.status}`;
      toast(t("ptz.refused", { why: errorText(e) }), "error");
    }
  };
  let held = null;
  const start = (dir) => {
    if (held === dir) return;
    held = dir;
    const [pan, tilt] = MOVES[dir];
    send("move", { pan, tilt, zoom: 0 });
  };
  const stop = () => { if (held) { held = null; send("stop"); } };
  const holdButton = (name, label, onDown) => h("button.icon", {
    dataset: { ptz: name }, title: t(`ptz.${name}`), "aria-label": t(`ptz.${name}`),
    onpointerdown: (e) => { e.stopPropagation(); onDown(); },
    onpointerup: stop, onpointerleave: stop,
  }, label);
  const zoom = (speed) => { held = "zoom"; send("zoom", { speed }); };
  const presets = h("select.ptzpresets", { title: t("ptz.presets"),
    onchange: (e) => { if (e.target.value) send("preset/goto", { token: e.target.value }); e.target.value = ""; } },
  h("option", { value: "" }, t("ptz.presets")),
  ...(state.presets || []).map((p) => h("option", { value: p.token }, p.name)));
  const pad = h("div.ptzpad", { onpointerdown: (e) => e.stopPropagation(), ondblclick: (e) => e.stopPropagation() },
    h("div.ptzgrid",
      h("span"), holdButton("up", "▲", () => start("up")), h("span"),
      holdButton("left", "◀", () => start("left")),
      h("button.icon", { dataset: { ptz: "home" }, title: t("ptz.home"), "aria-label": t("ptz.home"), onclick: () => send("home") }, "⌂"),
      holdButton("right", "▶", () => start("right")),
      holdButton("zoom_out", "−", () => zoom(-SPEED)), holdButton("down", "▼", () => start("down")),
      holdButton("zoom_in", "+", () => zoom(SPEED))),
    presets);
  el.tabIndex = 0;
  el.addEventListener("keydown", (e) => { if (KEYS[e.key]) { e.preventDefault(); start(KEYS[e.key]); } });
  el.addEventListener("keyup", (e) => { if (KEYS[e.key]) stop(); });
  el.addEventListener("wheel", (e) => {
    e.preventDefault();
    send("relative", { pan: 0, tilt: 0, zoom: e.deltaY < 0 ? 0.1 : -0.1 });
  }, { passive: false });
  el.classList.add("with-ptz");
  el.append(pad);
  watchNotices();
  return pad;
}

// Cameras this operator lost (taken over by a higher priority, or locked by their owner):
// one poll per page, a toast per notice, so the loser is told at once, not at the next move.
let noticeTimer = null;
let lastNotice = null;

async function pollNotices() {
  try {
    const list = await api(v1("ptz/notices"), { query: { after: lastNotice ?? 0 } });
    if (lastNotice !== null) {
      for (const n of list) {
        toast(t(`ptz.lost.${n.kind}`, { camera: n.camera, by: n.by_department }), "warn");
        const tile = document.querySelector(`.tile[data-camera="${CSS.escape(n.camera)}"]`);
        if (tile) tile.dataset.ptz = `lost:${n.kind}`;
      }
    }
    lastNotice = Math.max(lastNotice ?? 0, ...list.map((n) => n.id));
  } catch {
    /* signed out or the hub restarting: try again at the next tick */
  }
}

function watchNotices() {
  if (noticeTimer) return;
  pollNotices();
  noticeTimer = setInterval(() => {
    if (!document.querySelector(".ptzpad")) { clearInterval(noticeTimer); noticeTimer = null; lastNotice = null; return; }
    pollNotices();
  }, 3000);
}
