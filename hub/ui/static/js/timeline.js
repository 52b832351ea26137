// A camera's recorded time under its video: recorded ranges and gaps of the visible window
// (default the last hour, zoomable), the camera's events, a playhead; click or drag to seek,
// 1x-8x, pause, "Live". Footage comes over the hub's gateway (/ui/relay/playback,
// streams/web/playback.js) into the same <video> as the live CameraPlayer, which is stopped
// meanwhile and resumed by "Live". Times are shown in the city's zone. A GB/T 28181 channel
// the relay does not record shows what its device (NVR) keeps (/gb28181/channels/{id}/records)
// and plays it through the relay's device playback (/ui/relay/playback/{id}/device).
import { api, playToken, v1 } from "./api.js";
import { h } from "./dom.js";
import { errorText, fmtClock, fmtTime, t } from "./i18n.js";
import { recordedPlay } from "/ui/stream/playback.js";

const RELAY = "/ui/relay";
const SPANS = [300, 900, 3600, 6 * 3600, 86400];  // zoom steps (s)
const SPEEDS = [1, 2, 4, 8];
const REFRESH_MS = 5000;
const DEVICE_REFRESH_S = 60;  // a device's record list is asked of it this often at most
const DEVICE_SPAN_S = 86400;  // one device playback's stretch at most (the hub's limit)
const JOIN_S = 0.5;  // segments closer than this are one recorded range (the relay's gap rule)
const now = () => Date.now() / 1000;

export class Timeline {
  /** `live`: the camera's CameraPlayer on `video`; onMode("live" | "playback") for the host. */
  constructor({ camera, video, live, onMode = () => {} }) {
    Object.assign(this, { camera, video, live, onMode });
    this.span = 3600;
    this.end = null;  // the window's end (unix s); null: now
    this.mode = "live";
    this.speed = 1;
    this.paused = false;
    this.rec = null;  // the recorded playback (streams/web/playback.js)
    this.grant = null;  // {token, expires, window}
    this.ranges = [];
    this.gaps = [];
    this.events = [];
    this.device = null;  // a GB/T 28181 channel's device recordings: {asked, window}
    this._build();
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.tick = setInterval(() => this._drawHead(), 250);
  }

  _build() {
    const button = (cls, attrs, label) => h(`button.ghost.${cls}`, { type: "button", ...attrs }, label);
    this.clock = h("span.tl-clock");
    this.pauseBtn = button("tl-pause", { dataset: { action: "pause" }, onclick: () => this.togglePause() }, t("recording.pause"));
    this.speedBtns = SPEEDS.map((s) => button("tl-speed", { dataset: { speed: s }, title: t("recording.speed", { speed: s }), onclick: () => this.setSpeed(s) }, `${s}×`));
    this.liveBtn = button("tl-live", { dataset: { action: "live" }, onclick: () => this.goLive() }, t("recording.live"));
    this.msg = h("span.tl-msg");
    this.ranges_el = h("div.tl-ranges");
    this.events_el = h("div.tl-events");
    this.head = h("div.tl-head");
    this.hover = h("div.tl-hover", { hidden: true });
    this.track = h("div.tl-track", { title: t("recording.seek_hint") }, this.ranges_el, this.events_el, this.head, this.hover);
    this.axis = h("div.tl-axis");
    this.el = h("div.rectimeline", { dataset: { camera: this.camera, mode: "live" }, ondblclick: (e) => e.stopPropagation() },
      h("div.tl-controls", this.clock, this.pauseBtn, ...this.speedBtns, this.liveBtn, this.msg, h("span.spacer"),
        button("tl-zoom", { dataset: { zoom: "out" }, title: t("recording.zoom_out"), onclick: () => this.zoom(1) }, "−"),
        button("tl-zoom", { dataset: { zoom: "in" }, title: t("recording.zoom_in"), onclick: () => this.zoom(-1) }, "+")),
      this.track, this.axis);
    this._dragging();
    this.track.addEventListener("wheel", (e) => { e.preventDefault(); this.zoom(Math.sign(e.deltaY)); }, { passive: false });
    this._controls();
  }

  /** The visible window [start, end] in unix seconds. */
  window() {
    const end = this.end ?? now();
    return [end - this.span, end];
  }

  _x(at) {
    const [a, b] = this.window();
    return Math.max(0, Math.min(100, ((at - a) / (b - a)) * 100));
  }

  _at(clientX) {
    const box = this.track.getBoundingClientRect();
    const [a, b] = this.window();
    return Math.min(now(), a + ((clientX - box.left) / box.width) * (b - a));
  }

  /** Click seeks; a drag shows the instant under the pointer and seeks where it is let go. */
  _dragging() {
    let down = false;
    const show = (e) => {
      const at = this._at(e.clientX);
      this.hover.hidden = false;
      this.hover.style.left = `${this._x(at)}%`;
      this.hover.textContent = fmtClock(new Date(at * 1000));
    };
    this.track.addEventListener("pointerdown", (e) => { down = true; this.track.setPointerCapture(e.pointerId); show(e); });
    this.track.addEventListener("pointermove", (e) => down && show(e));
    this.track.addEventListener("pointerup", (e) => {
      if (!down) return;
      down = false;
      this.hover.hidden = true;
      this.seek(this._at(e.clientX));
    });
    this.track.addEventListener("pointercancel", () => { down = false; this.hover.hidden = true; });
  }

  zoom(step) {
    const i = Math.max(0, Math.min(SPANS.length - 1, SPANS.indexOf(this.span) + step));
    const at = this.mode === "playback" ? this.rec?.wallTime() : null;
    this.span = SPANS[i];
    this.end = at ? Math.min(now(), at + this.span / 2) : null;
    if (this.end && this.end > now() - 1) this.end = null;
    this.refresh();
  }

  /** A play token allowing playback, renewed before it runs out. */
  async token() {
    if (this.grant && this.grant.expires - Date.now() > 15000) return this.grant.token;
    const p = await playToken(this.camera, ["playback"]);
    this.grant = { token: p.token, expires: Date.parse(p.expires_at), window: p.playback_window };
    return p.token;
  }

  /** Recorded ranges and gaps of the window (relay, through the gateway, else the
   * device's when the camera is a GB/T 28181 channel) and its events. */
  async refresh() {
    const [a, b] = this.window();
    try {
      const token = await this.token();
      if (this.device) throw Object.assign(new Error("404"), { status: 404 });
      const q = new URLSearchParams({ start: a.toFixed(3), end: b.toFixed(3), token });
      const r = await fetch(`${RELAY}/recordings/${encodeURIComponent(this.camera)}/segments?${q}`);
      if (!r.ok) throw Object.assign(new Error(`${r.status}`), { status: r.status });
      const body = await r.json();
      this.ranges = joined(body.segments);
      this.gaps = body.gaps;
      if (this.msg.dataset.kind === "ranges") this._say("");
    } catch (e) {
      if (e.status === 404 && await this._deviceRanges(a, b)) e = null;
      else { this.ranges = []; this.gaps = []; }
      if (e) this._say(e.status === 403 ? t("recording.no_right") : e.status === 404 ? t("recording.not_recorded")
        : t("recording.ranges_failed", { error: errorText(e) }), "ranges");
    }
    try {
      const page = await api(v1("events"), { query: { cameras: this.camera, start: new Date(a * 1000).toISOString(), end: new Date(b * 1000).toISOString(), limit: 200 } });
      this.events = page.items;
    } catch { this.events = []; }  // a role without events still sees the recording
    this._draw();
  }

  /** The device's recorded ranges of [a, b] (asked again when the window moves or a
   * minute has passed); false when the camera is no GB/T 28181 channel. */
  async _deviceRanges(a, b) {
    const key = `${Math.floor(a / DEVICE_REFRESH_S)}-${Math.floor(b / DEVICE_REFRESH_S)}`;
    if (this.device?.asked === key) return true;
    try {
      const body = await api(v1(`gb28181/channels/${encodeURIComponent(this.camera)}/records`),
        { query: { start: a.toFixed(0), end: b.toFixed(0) } });
      this.device = { ...this.device, asked: key };
      this.ranges = body.records.map((r) => [r.start, r.end]);
      this.gaps = [];
      this._say(t("recording.on_device"), "device");
    } catch (e) {
      if (e.status === 404 && !this.device) return false;
      this.device = { ...this.device, asked: null };
      this.ranges = [];
      this._say(t("recording.device_failed", { error: errorText(e) }), "device");
    }
    this.el.dataset.source = "device";
    return true;
  }

  /** Where footage from `at` plays: the relay's recording, or a stretch of the device's
   * (a play token of its own, covering the visible window). */
  async _source(at) {
    const cam = encodeURIComponent(this.camera);
    if (!this.device) return { url: `${RELAY}/playback/${cam}`, token: await this.token() };
    const [a, b] = this.window();
    const end = Math.floor(Math.min(now(), Math.max(b, at + 60)));
    const start = Math.max(Math.floor(Math.min(a, at)), end - DEVICE_SPAN_S);
    const p = await api(v1(`gb28181/channels/${cam}/playback`), { method: "POST", body: { start, end } });
    this.device.window = [p.start, p.end];
    return { url: `${RELAY}/playback/${cam}/device?start=${p.start}&end=${p.end}`, token: p.token };
  }

  /** The open playback can go to `at` (a device's only within its stretch). */
  _reaches(at) {
    if (!this.rec || this.rec.ws.readyState !== WebSocket.OPEN) return false;
    const win = this.device?.window;
    return !win || (win[0] <= at && at < win[1] - 1);
  }

  _say(text, kind = "") {
    this.msg.textContent = text;
    this.msg.dataset.kind = text ? kind : "";
  }

  _draw() {
    const bar = (cls, s, e, title) => {
      const el = h(`div.${cls}`, { title, dataset: { start: s, end: e } });
      el.style.left = `${this._x(s)}%`;
      el.style.width = `${Math.max(0.2, this._x(e) - this._x(s))}%`;
      return el;
    };
    const span = (s, e) => `${fmtTime(s * 1000)} – ${fmtClock(new Date(e * 1000))}`;
    this.ranges_el.replaceChildren(
      ...this.ranges.map(([s, e]) => bar(this.device ? "tl-rec.tl-device" : "tl-rec", s, e,
        t(this.device ? "recording.recorded_device" : "recording.recorded", { span: span(s, e) }))),
      ...this.gaps.map((g) => bar("tl-gap", g.start, g.end, t("recording.gap", { span: span(g.start, g.end) }))));
    this.events_el.replaceChildren(...this.events.map((ev) => {
      const at = Date.parse(ev.occurred_at) / 1000;
      const el = h("div.tl-event", { dataset: { id: ev.id, at }, title: `${fmtTime(ev.occurred_at)} · ${ev.kind}`,
        onpointerdown: (e) => e.stopPropagation(), onclick: () => this.seek(at - 10) });
      el.style.left = `${this._x(at)}%`;
      return el;
    }));
    const [a, b] = this.window();
    this.axis.replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => {
      const el = h("span", fmtClock(new Date((a + f * (b - a)) * 1000)));
      el.style.left = `${f * 100}%`;
      return el;
    }));
    this._drawHead();
  }

  _drawHead() {
    const at = this.mode === "playback" ? this.rec?.wallTime() : now();
    if (this.mode === "playback" && at) {
      const [a, b] = this.window();
      if (at < a || at > b) { this.end = Math.min(now(), at + this.span / 2); this._draw(); return; }
      this.clock.textContent = fmtTime(at * 1000);
      this.clock.dataset.at = at.toFixed(1);
    } else if (this.mode === "live") {
      this.clock.textContent = t("recording.live_now");
      delete this.clock.dataset.at;
    }
    this.head.style.left = `${this._x(at || now())}%`;
  }

  /** Plays recorded footage from `at` (unix s), switching the video from live if need be. */
  async seek(at) {
    const win = this.grant?.window;
    if (win?.[0] != null) at = Math.max(at, win[0]);
    if (win?.[1] != null) at = Math.min(at, win[1]);
    at = Math.min(at, now() - 1);
    this.paused = false;
    try {
      if (this._reaches(at)) {
        this.rec.play(at, this.speed);
      } else {
        const old = this.rec;
        this.rec = null;
        old?.stop();
        this.live.stop();
        const scheme = location.protocol === "https:" ? "wss" : "ws";
        const source = await this._source(at);
        const url = `${scheme}://${location.host}${source.url}`;
        const rec = await recordedPlay(this.video, url, source.token, { at, speed: this.speed });
        this.rec = rec;
        this._countFrames(rec);
        rec.onEnd(() => { if (this.rec === rec) this._say(t("recording.ended"), "end"); });
        rec.ws.addEventListener("message", (m) => {
          if (typeof m.data !== "string") return;
          const msg = JSON.parse(m.data);
          if (msg.type === "error") this._say(msg.error, "error");
          if (msg.type === "init" && !["ranges", "device"].includes(this.msg.dataset.kind)) this._say("");
        });
        rec.ws.addEventListener("close", (e) => {
          if (this.rec !== rec) return;
          if (e.code === 1000) return void (this.rec = null);
          this.goLive();  // the relay ended it (access, error): back to live, saying why
          this._say(t("recording.closed", { reason: e.reason || e.code }), "error");
        });
      }
      this._setMode("playback");
      this.end = at < this.window()[0] || at > this.window()[1] ? Math.min(now(), at + this.span / 2) : this.end;
      if (this.end && this.end > now() - 1) this.end = null;
      this._draw();
    } catch (e) {
      if (!this.rec) this.goLive();
      this._say(t("recording.play_failed", { error: e.message }), "error");
    }
  }

  /** Frames shown while footage plays (video.dataset.frames, as the live player counts). */
  _countFrames(rec) {
    const tick = () => {
      if (this.rec !== rec) return;
      this.video.dataset.frames = Number(this.video.dataset.frames || 0) + 1;
      this.video.requestVideoFrameCallback(tick);
    };
    this.video.requestVideoFrameCallback(tick);
  }

  setSpeed(speed) {
    this.speed = speed;
    this._controls();
    const at = this.rec?.wallTime();
    if (this.mode === "playback" && at) this.seek(at);
  }

  togglePause() {
    if (this.mode !== "playback" || !this.rec) return;
    this.paused = !this.paused;
    if (this.paused) this.rec.pause(); else this.rec.resume();
    this._controls();
  }

  goLive() {
    const rec = this.rec;
    this.rec = null;
    rec?.stop();
    this.end = null;
    this.paused = false;
    this._say("");
    this._setMode("live");
    if (this.live.stopped) this.live.resume();
    this._draw();
  }

  _setMode(mode) {
    this.mode = mode;
    this.el.dataset.mode = mode;
    this.video.dataset.mode = mode;
    this._controls();
    this.onMode(mode);
  }

  _controls() {
    const playing = this.mode === "playback";
    this.pauseBtn.disabled = !playing;
    this.pauseBtn.textContent = t(this.paused ? "recording.resume" : "recording.pause");
    this.pauseBtn.dataset.paused = this.paused;
    this.liveBtn.disabled = !playing;
    for (const b of this.speedBtns) b.classList.toggle("active", Number(b.dataset.speed) === this.speed);
  }

  /** Stops refreshing and any recorded playback (the host stops its live player). */
  close() {
    clearInterval(this.timer);
    clearInterval(this.tick);
    const rec = this.rec;
    this.rec = null;
    rec?.stop();
  }
}

/** Segments joined into recorded ranges [[start, end], ...]. */
function joined(segments) {
  const out = [];
  for (const s of [...segments].sort((x, y) => x.start - y.start)) {
    const last = out[out.length - 1];
    if (last && s.start - last[1] <= JOIN_S) last[1] = Math.max(last[1], s.end);
    else out.push([s.start, s.end]);
  }
  return out;
}
