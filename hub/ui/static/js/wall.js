// The video wall: camera list (drag or double-click into tiles), grid presets and custom
// grids, layouts saved per user and shared per department, live tiles with status.
import { api, v1 } from "./api.js";
import { showDecode } from "./decodepath.js";
import { h, toast, download } from "./dom.js";
import { errorText, t } from "./i18n.js";
import * as L from "./layout.js";
import { CameraPlayer } from "./player.js";
import { attachPtz } from "./ptz.js";
import { Timeline } from "./timeline.js";

const LAST = "cityhub.wall.current";
// This workstation's choice of video transport ("auto", "webrtc", "fmp4"), over ui.video_transport.
const TRANSPORT_OVERRIDE = "cityhub.video_transport";

export async function wallPage(root, ctx) {
  const cameras = await api(v1("cameras"));
  const sites = Object.fromEntries((await api(v1("sites"))).map((s) => [s.id, s]));
  const byId = Object.fromEntries(cameras.map((c) => [c.id, c]));
  let layouts = await api(v1("layouts")).catch(() => []);
  let current = null;  // saved layout being shown (id, name, shared, mine)
  let layout = JSON.parse(sessionStorage.getItem(LAST) || "null") || L.preset("4");
  let keepTimer = null, keptText = null;  // the wall as last kept on the hub (layouts/last)
  let picked = -1;  // tile chosen with the keyboard (digits)
  const players = new Map();  // players just created, by "new:<tile index>"
  const shown = new Map();  // tile key -> {el, player}: what the wall shows now

  const list = h("div.camlist");
  const filter = h("input.search", { placeholder: t("core.wall.filter"), type: "search", oninput: () => renderList() });
  const gridEl = h("div.wall", { id: "wall" });
  const layoutSelect = h("select", { id: "layout-select", onchange: () => openLayout(layoutSelect.value) });
  const shareBox = h("input", { type: "checkbox", id: "layout-shared" });
  const colsIn = h("input.num", { type: "number", min: 1, max: 8, value: layout.columns, id: "grid-cols" });
  const rowsIn = h("input.num", { type: "number", min: 1, max: 8, value: layout.rows, id: "grid-rows" });

  const toolbar = h("div.toolbar",
    h("span.label", t("core.wall.grid")),
    ...Object.keys(L.PRESETS).map((p) => h("button.ghost", { dataset: { preset: p }, onclick: () => { set(L.preset(p, layout.tiles.map((t) => t.camera))); } }, p)),
    h("span.custom", colsIn, "×", rowsIn, h("button.ghost", { id: "grid-custom", onclick: () => set(L.regrid(layout, clampGrid(colsIn.value), clampGrid(rowsIn.value))) }, t("core.apply"))),
    h("span.sep"),
    h("span.label", t("core.wall.layout")), layoutSelect,
    h("label.inline", shareBox, " ", t("core.wall.shared")),
    h("button", { id: "layout-save", onclick: () => save(false) }, t("core.save")),
    h("button.ghost", { id: "layout-save-as", onclick: () => save(true) }, t("core.save_as")),
    h("button.ghost", { id: "layout-delete", onclick: () => remove() }, t("core.delete")));

  root.replaceChildren(h("div.wallpage",
    h("aside.sidebar", h("h2", t("core.wall.cameras")), filter, list,
      h("p.hint", t("core.wall.hint")), h("p.hint", { id: "wall-keys" }, t("wall.keys"))),
    h("section.wallmain", toolbar, gridEl)));

  function clampGrid(v) { return Math.max(1, Math.min(8, parseInt(v, 10) || 1)); }

  function renderList() {
    const q = filter.value.toLowerCase();
    const groups = {};
    for (const c of cameras) {
      if (q && !`${c.name} ${c.id} ${c.site} ${c.department}`.toLowerCase().includes(q)) continue;
      (groups[c.site] ||= []).push(c);
    }
    list.replaceChildren(...Object.entries(groups).map(([site, cams]) => h("div.group",
      h("div.groupname", sites[site]?.name || site),
      ...cams.map((c) => h("div.cam", {
        draggable: "true", dataset: { camera: c.id }, title: `${c.id} · ${c.department} · ${c.system}`,
        ondragstart: (e) => { e.dataTransfer.setData("text/x-camera", c.id); e.dataTransfer.effectAllowed = "copy"; },
        ondblclick: () => set(L.add(layout, c.id)),
      }, h("span.camname", c.name), h("span.dept", c.department))))));
    if (!cameras.length) list.replaceChildren(h("p.muted", t("core.wall.no_cameras")));
  }

  function renderLayouts() {
    layoutSelect.replaceChildren(h("option", { value: "" }, t("core.wall.unsaved")),
      ...layouts.map((l) => h("option", { value: l.id, selected: current?.id === l.id },
        `${l.name}${l.shared ? ` (${t("core.wall.shared_mark")})` : ""}${l.mine ? "" : ` · ${l.owner}`}`)));
    shareBox.checked = !!current?.shared;
  }

  function set(next) {
    layout = { columns: next.columns, rows: next.rows, tiles: next.tiles };
    sessionStorage.setItem(LAST, JSON.stringify(layout));
    keepLast();
    colsIn.value = layout.columns;
    rowsIn.value = layout.rows;
    renderWall();
  }

  /** Keeps the wall as it is now for the user, on the hub (any workstation gets it back);
   * a moment after the last change, and only when something changed. */
  function keepLast() {
    clearTimeout(keepTimer);
    keepTimer = setTimeout(() => {
      const body = { layout_id: current?.id || null, columns: layout.columns, rows: layout.rows,
        tiles: layout.tiles.map((x) => ({ col: x.col, row: x.row, w: x.w, h: x.h, camera: byId[x.camera] ? x.camera : null })) };
      const text = JSON.stringify(body);
      if (text === keptText) return;
      api(v1("layouts/last"), { method: "PUT", body })
        .then(() => { keptText = text; gridEl.dataset.kept = String(Date.now()); })
        .catch(() => { /* a preference: the wall works without it */ });
    }, 400);
  }

  /** Re-renders the grid, keeping tiles (and their playing video) that did not change. */
  function renderWall() {
    const max = ctx.config.wall_max_tiles || 16;
    const old = new Map(shown);
    shown.clear();
    gridEl.style.gridTemplateColumns = `repeat(${layout.columns}, 1fr)`;
    gridEl.style.gridTemplateRows = `repeat(${layout.rows}, 1fr)`;
    const els = layout.tiles.map((t, i) => {
      const key = `${i}|${t.col},${t.row},${t.w},${t.h}|${t.camera || ""}|${i < max}`;
      const kept = old.get(key);
      old.delete(key);
      const entry = kept || { el: tile(t, i, i < max), player: players.get(`new:${i}`) };
      players.delete(`new:${i}`);
      shown.set(key, entry);
      return entry.el;
    });
    for (const { el, player } of old.values()) { el.timeline?.close(); player?.stop(); }
    gridEl.replaceChildren(...els);
    for (const [j, el] of els.entries()) el.classList.toggle("picked", j === picked);
    sizeProfiles();
  }

  function tile(spec, i, play) {
    const cam = spec.camera ? byId[spec.camera] : null;
    const video = h("video", { autoplay: true, muted: true, playsInline: true });
    video.muted = true;
    const img = h("img.fallback", { hidden: true, alt: "" });
    const dot = h("span.dot.connecting");
    const state = h("span.state", cam ? t("core.status.connecting") : "");
    const decode = h("span.decode", { hidden: true });
    const el = h("div.tile", {
      dataset: { index: i, camera: spec.camera || "", status: cam ? "connecting" : "empty" }, tabindex: "-1",
      ondragover: (e) => { e.preventDefault(); el.classList.add("drop"); },
      ondragleave: () => el.classList.remove("drop"),
      ondrop: (e) => { e.preventDefault(); el.classList.remove("drop"); const id = e.dataTransfer.getData("text/x-camera"); if (id) set(L.place(layout, i, id)); },
      ondblclick: () => fullscreen(el),
    });
    el.style.gridArea = L.cssArea(spec);
    if (!cam) {
      el.append(h("div.empty", spec.camera ? t("core.wall.camera_unavailable") : t("core.wall.drop_here")));
      return el;
    }
    const player = new CameraPlayer(video, img, cam.id, (s, why) => {
      if (el.timeline?.mode === "playback") return;  // a stopping live view does not say over it
      el.dataset.status = s;
      dot.className = `dot ${s}`;
      state.textContent = t(s === "live" && video.dataset.transport === "fmp4" ? "core.status.live_fmp4" : `core.status.${s}`);
      state.title = why || "";
      showDecode(decode, video);
    }, localStorage.getItem(TRANSPORT_OVERRIDE) || ctx.config.video_transport || "auto", gridProfile());
    el.player = player;
    el.append(video, img,
      h("div.tilebar", dot, h("span.tilename", cam.name), state, decode, h("span.spacer"),
        h("button.icon", { dataset: { action: "snapshot" }, title: t("core.wall.snapshot"), "aria-label": t("core.wall.snapshot"), onclick: () => snap(player, cam) }, "📷"),
        h("button.icon", { dataset: { action: "timeline" }, title: t("recording.timeline"), "aria-label": t("recording.timeline"), onclick: () => toggleTimeline(el, video, player, state) }, "◷"),
        h("button.icon", { dataset: { action: "fullscreen" }, title: t("core.wall.fullscreen"), "aria-label": t("core.wall.fullscreen"), onclick: () => fullscreen(el) }, "⛶"),
        h("button.icon", { dataset: { action: "remove" }, title: t("core.wall.remove"), "aria-label": t("core.wall.remove"), onclick: () => set(L.clear(layout, i)) }, "✕")));
    if (play) { players.set(`new:${i}`, player); player.start(); } else player.status("offline", t("core.wall.too_many"));
    attachPtz(el, cam.id);
    return el;
  }

  /** The camera's recorded timeline along the bottom of its tile, on and off (off: live). */
  function toggleTimeline(el, video, player, state) {
    if (el.timeline) {
      el.timeline.goLive();
      el.timeline.close();
      el.timeline.el.remove();
      el.timeline = null;
      return el.classList.remove("with-timeline");
    }
    el.timeline = new Timeline({ camera: el.dataset.camera, video, live: player, onMode: (mode) => {
      el.dataset.mode = mode;
      if (mode === "playback") { el.dataset.status = "playback"; el.querySelector(".dot").className = "dot playback"; state.textContent = t("recording.status.playback"); state.title = ""; }
    } });
    el.classList.add("with-timeline");
    el.append(el.timeline.el);
  }

  async function snap(player, cam) {
    try {
      download(await player.snapshot(), `${cam.id}-${new Date().toISOString().replace(/[:.]/g, "-")}.jpg`);
      toast(t("core.wall.snapshot_saved", { camera: cam.name }));
    } catch (e) { toast(errorText(e), "error"); }
  }

  /** Grids of 4 or more tiles play the cameras' sub streams; fewer, the main ones. */
  function gridProfile() { return layout.tiles.length >= 4 ? "sub" : "main"; }

  function fullscreen(el) {
    if (document.fullscreenElement) document.exitFullscreen();
    else el.requestFullscreen?.().catch(() => { el.classList.toggle("maximised"); sizeProfiles(); });
  }

  /** Full screen (or maximised) plays the main stream; in the grid, the grid's choice. */
  function sizeProfiles() {
    for (const el of gridEl.querySelectorAll(".tile")) {
      const big = document.fullscreenElement === el || el.classList.contains("maximised");
      el.player?.setProfile(big ? "main" : gridProfile());
    }
  }
  document.addEventListener("fullscreenchange", sizeProfiles);

  async function openLayout(id) {
    current = layouts.find((l) => l.id === id) || null;
    if (current) set(current);
    if (current?.hidden) toast(t("core.wall.hidden", { count: current.hidden }), "warn");
    renderLayouts();
  }

  async function save(asNew) {
    let name = current?.name;
    if (asNew || !current || !current.mine) {
      name = prompt(t("core.wall.layout_name"), current && !asNew ? current.name : t("core.wall.my_wall"));
      if (!name) return;
    }
    const body = { name, shared: shareBox.checked, columns: layout.columns, rows: layout.rows, tiles: layout.tiles };
    try {
      const saved = current && current.mine && !asNew
        ? await api(v1(`layouts/${current.id}`), { method: "PUT", body })
        : await api(v1("layouts"), { method: "POST", body });
      layouts = await api(v1("layouts"));
      current = layouts.find((l) => l.id === saved.id);
      renderLayouts();
      toast(t(saved.shared ? "core.wall.saved_shared" : "core.wall.saved", { name: saved.name }));
    } catch (e) { toast(errorText(e), "error"); }
  }

  async function remove() {
    if (!current || !confirm(t("core.wall.confirm_delete", { name: current.name }))) return;
    try {
      await api(v1(`layouts/${current.id}`), { method: "DELETE" });
      layouts = layouts.filter((l) => l.id !== current.id);
      current = null;
      renderLayouts();
    } catch (e) { toast(errorText(e), "error"); }
  }

  // A new session gets the wall back as the user left it (on any workstation), else their
  // first layout (own before shared).
  if (!sessionStorage.getItem(LAST)) {
    const last = await api(v1("layouts/last")).catch(() => null);
    if (last) {
      current = layouts.find((l) => l.id === last.layout_id) || null;
      layout = { columns: last.columns, rows: last.rows, tiles: last.tiles };
      keptText = JSON.stringify({ layout_id: last.layout_id, columns: last.columns, rows: last.rows, tiles: last.tiles });
    } else if (layouts.length) {
      current = layouts[0];
      layout = { columns: current.columns, rows: current.rows, tiles: current.tiles };
    }
  }
  // "Open on wall" from the event console or the map: #/wall?camera=ID
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("camera");
  if (wanted && byId[wanted]) layout = L.add(layout, wanted);
  /** Wall keys: digits pick a tile (0: the tenth), F shows it (or the wall) full screen,
   * Esc goes back (out of full screen, then the pick). Not while typing in a field. */
  function onKey(e) {
    if (e.ctrlKey || e.altKey || e.metaKey || e.target.closest?.("input, select, textarea, [contenteditable]")) return;
    const tiles = [...gridEl.querySelectorAll(".tile")];
    if (/^[0-9]$/.test(e.key)) {
      const i = e.key === "0" ? 9 : Number(e.key) - 1;
      if (i < tiles.length) { pick(i); e.preventDefault(); }
    } else if (e.key === "f" || e.key === "F") {
      fullscreen(tiles[picked] || gridEl);
      e.preventDefault();
    } else if (e.key === "Escape") {
      const big = gridEl.querySelector(".tile.maximised") || (gridEl.classList.contains("maximised") && gridEl);
      if (document.fullscreenElement) document.exitFullscreen();
      else if (big) { big.classList.remove("maximised"); sizeProfiles(); }
      else pick(-1);
    }
  }
  function pick(i) {
    picked = i;
    for (const [j, el] of [...gridEl.querySelectorAll(".tile")].entries()) el.classList.toggle("picked", j === i);
    gridEl.dataset.picked = String(i);
    if (i >= 0) gridEl.querySelectorAll(".tile")[i].focus?.({ preventScroll: true });
  }
  document.addEventListener("keydown", onKey);

  renderList();
  renderLayouts();
  set(layout);
  return () => {
    clearTimeout(keepTimer);
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("fullscreenchange", sizeProfiles);
    for (const { el, player } of shown.values()) { el.timeline?.close(); player?.stop(); }
  };
}
