// One camera in one tile: WebRTC (WHEP, RFC 9725) through the hub's relay gateway; where
// WebRTC cannot pass (UDP blocked, codec the browser lacks, relay trouble), fMP4 over a
// WebSocket through the same gateway (streams/fmp4); when both fail, refreshed JPEG
// snapshots. ui.video_transport: "auto" (that order), "fmp4" (skip WebRTC), "webrtc".
// Reports "connecting" | "live" | "fallback" | "offline"; video.dataset.transport says how.
// H.265 cameras (#16), decided in this order, each failure's reason kept (video.dataset.fallbacks):
// 1. passthrough: fMP4 into MSE where MediaSource.isTypeSupported says the browser decodes HEVC
//    (the relay's WebRTC is H.264 only: WHEP answers 415 "camera sends h265");
// 2. WebCodecs: the same fMP4 demuxed and decoded by VideoDecoder onto a <canvas>, where
//    VideoDecoder.isConfigSupported accepts the stream's hvc1/hev1 codec string;
// 3. the relay's "h264" profile, an on-demand transcode (its cost: bench/transcode.py).
// No WASM decoder: none permissively licensed exists. ?decoder=webcodecs|mse|transcode in the
// page's URL forces a first step (tests, field diagnosis); WebCodecs then plays H.264 too.
import { playToken } from "./api.js";
import { DecodePath } from "./decodepath.js";
import { t } from "./i18n.js";
import { fmp4Play } from "/ui/stream/mse.js";
import { webcodecsPlay } from "/ui/stream/webcodecs.js";

const RELAY = "/ui/relay";
const FIRST_FRAME_MS = 10000;
// The first retry goes at once (the hub's gateway holds it while a relay restarts), then
// every half second to a second (a relay or hub is back within 1-3 s), then back off.
const RETRY_MS = [100, 500, 1000, 1000, 2000, 4000, 8000, 15000];
const RETRY_JITTER = 0.25;  // ± this share: a wall's tiles lost at once do not knock at once
const STALL_MS = 1500;      // live, but no frame for this long: lost, reconnect
const STALL_CHECK_MS = 250;
const EVENTS_RETRY_MS = 1000;  // a WHEP session's event stream broke (the hub restarting): reopen
const FALLBACK_MS = 30000;  // on snapshots after a failed start: try video again after this
const SNAPSHOT_MS = 1000;
// A retry after the relay died or restarted, this soon after its play token was issued, reuses
// it (the relay still asks the hub before it serves): a wall coming back after a relay restart
// asks the hub for no new tokens. Any other retry (the hub down, a stall) asks for a new one.
const TOKEN_REUSE_MS = 30000;

/** The gateway's WebSocket close code when it cannot reach the relay (hub/ui/router.py). */
const RELAY_DOWN = /\(4502\b/;
/** The relay refused the play token (WHEP 401/403, WebSocket close 4401/4403). */
const tokenRefused = (e) => e.status === 401 || e.status === 403 || /\(440[13]\b/.test(e.message);

/** Reads a session's event stream (text/event-stream) to its end: the name of the event
 * that ended the session ("closed", "relay-lost"), or null when the stream just broke. */
async function sessionEnd(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return null;
    text += value;
    const end = /^event: (closed|relay-lost)$/m.exec(text);
    if (end) return end[1];
    text = text.slice(text.lastIndexOf("\n\n") + 1);  // keep only an unfinished event
  }
}

/** WHEP refusals (401, 403, 404...) are final; network, ICE, codec (415) and relay (5xx)
 * failures are worth trying over fMP4. */
const worthFmp4 = (e) => e.status === undefined || e.status === 415 || e.status >= 500;

const HEVC_MIME = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
const codecOf = (mime) => /codecs="([^"]+)"/.exec(mime)[1];
/** Whether this browser decodes HEVC in MSE (the fMP4 passthrough of an H.265 camera). */
export const canHevc = () => typeof MediaSource !== "undefined" && MediaSource.isTypeSupported(HEVC_MIME);
/** A decoder's refusal of the stream's codec (MSE, WebCodecs): the next decode step's turn. */
const CANNOT_DECODE = /cannot decode .*\b(hvc1|hev1|avc1)/;

export class CameraPlayer {
  constructor(video, img, camera, onStatus, transport = "auto", profile = "main") {
    Object.assign(this, { video, img, camera, onStatus, transport, profile });
    this.path = new DecodePath(camera, video);
    video.dataset.profile = this._profile();
    this.ws = null;
    this.frames = 0;
    this.stopped = false;
    this.failures = 0;
    this.pc = null;
    this.resource = null;
    this.token = null;
    this.timer = null;
    this.starts = 0;  // start() calls so far: a newer one supersedes an older one
    this._countFrames();
  }

  status(s, why = "") {
    this.state = s;
    this.onStatus(s, why);
  }

  /** Connects (again). A start that another one (setProfile, a retry) overtook stops at its
   * next step without touching what the newer one set up. */
  async start() {
    const gen = ++this.starts;
    const current = () => gen === this.starts && !this.stopped;
    this.status("connecting");
    const protocols = ["webrtc", "snapshot", "clip"];
    if (this.transport !== "webrtc") protocols.push("fmp4");
    const reused = this.relayWasDown && this.play && Date.now() - this.playAt < TOKEN_REUSE_MS;
    this.relayWasDown = false;
    let play = reused ? this.play : null;
    if (!play) {
      try {
        play = await playToken(this.camera, protocols);
      } catch (e) {
        if (!current()) return;
        // The hub restarting (no answer, 5xx) is retried on the back-off; a refusal is final.
        if (e.status === undefined || e.status >= 500) return this._retryLater("offline", e.message);
        return this.status("offline", e.message);
      }
      if (!current()) return;
      [this.play, this.playAt] = [play, Date.now()];
    }
    ({ token: this.token, session_id: this.session } = play);
    const renew = (e) => {  // a reused token the relay refuses (expired early, a new key)
      if (!reused || !tokenRefused(e)) return false;
      this.play = null;  // a new one, at once
      this.start();
      return true;
    };
    let why = "";
    // Where WebRTC just failed, a reconnect goes straight to fMP4 for a while.
    if (this.path.webrtc(this.transport) && !(Date.now() < this.fmp4Until)) {
      try {
        await this._whep();
        if (current()) this._live("webrtc", "");
        return;
      } catch (e) {
        if (!current()) return;
        this._closePc();
        if (renew(e)) return;
        why = `WebRTC: ${e.message}`;
        // H.265, which the relay's WebRTC cannot pass: fMP4 where MSE decodes HEVC, else the next step.
        if (e.status === 415 && /\bh265\b/.test(e.message) && this._h265()) return this.start();
        // The gateway cannot reach the relay (restarting): fMP4 goes to the same relay.
        if (e.status === 502) return this._retryLater("connecting", why, true);
        if (this.transport === "webrtc" || !worthFmp4(e)) return this._fallback(why);
      }
    }
    try {
      await this._fmp4(current);
      if (!current()) return;
      if (why) this.fmp4Until = Date.now() + 60000;
      this._live("fmp4", why ? `fMP4 over WebSocket (${why})` : "fMP4 over WebSocket");
    } catch (e) {
      if (!current()) return;
      this._closePc();
      if (renew(e)) return;
      if ((CANNOT_DECODE.test(e.message) || e.decodeError) && this._cannotDecode(e)) return this.start();
      why = `${why ? why + "; " : ""}fMP4: ${e.message}`;
      if (RELAY_DOWN.test(e.message)) return this._retryLater("connecting", why, true);
      this._fallback(why);
    }
  }

  /** The profile asked of the relay: the camera's own, or its H.264 transcode. */
  _profile() {
    return this.path.profile(this.profile);
  }

  get transcode() { return this.path.step === "transcode"; }

  /** WHEP said the camera sends H.265: true when start() should go on with another step. */
  _h265() {
    this.path.hevc = true;
    if (this.transport === "webrtc") this.path.failed.add("webcodecs");  // it needs the fMP4 WebSocket
    if (this.path.step !== "native" || canHevc()) return false;  // fMP4 into MSE passes it through
    return this._fall(`no HEVC (MediaSource.isTypeSupported says no for ${codecOf(HEVC_MIME)})`);
  }

  /** MSE or WebCodecs refused the stream's codec: true when start() should try the next step. */
  _cannotDecode(e) {
    if (/\b(hvc1|hev1)/.test(e.message)) this.path.hevc = true;
    return this._fall(e.message);
  }

  _fall(why) {
    const again = this.path.fall(why);
    this.video.dataset.profile = this._profile();
    return again;
  }

  _live(transport, why) {
    this.failures = 0;
    const step = { transcode: "H.264 transcode", webcodecs: "WebCodecs" }[this.path.step];
    if (step) why = why ? `${why}, ${step}` : step;
    this.video.dataset.transport = transport;
    this.path.live();
    this.img.hidden = true;  // snapshots stay on top until the video shows a frame
    this.status("live", why);
  }

  async _fmp4(current) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}${RELAY}/fmp4/${encodeURIComponent(this.camera)}?profile=${this._profile()}`;
    const start = this.frames;
    let early = null;  // the session's end before its first frame: start() handles it
    const onClose = (e) => (this.state !== "live" ? (early = e)
      : this._lost(e.message, { decodeError: e.decodeError, relayGone: RELAY_DOWN.test(e.message) }));
    let ws;
    if (this.path.step !== "webcodecs") {
      this.path.hideCanvas();
      ws = await fmp4Play(this.video, url, this.token, { onClose });
    } else {
      const onFrame = () => this._painted();
      ws = await webcodecsPlay(this.path.showCanvas(), url, this.token, { onClose, onFrame });
    }
    if (!current()) return void ws.stop();  // overtaken: this socket is nobody's
    this.ws = ws;
    await this._firstFrame(start, () => early);
  }

  async _whep() {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    const gotTrack = new Promise((resolve) => {
      pc.ontrack = (ev) => {
        if (this.pc === pc) this.video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
        resolve();
      };
    });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {  // non-trickle: the offer carries every candidate
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
      setTimeout(resolve, 1500);
    });
    const r = await fetch(`${RELAY}/whep/${encodeURIComponent(this.camera)}?profile=${this._profile()}`, {
      method: "POST", body: pc.localDescription.sdp,
      headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${this.token}` },
    });
    if (r.status !== 201) {
      throw Object.assign(new Error(`${r.status} ${(await r.text()).slice(0, 200)}`), { status: r.status });
    }
    if (this.pc !== pc) {  // overtaken (setProfile, stop): hang up the session just made
      fetch(r.headers.get("Location"), { method: "DELETE" }).catch(() => {});
      throw new Error("superseded");
    }
    this.resource = r.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
    pc.addEventListener("connectionstatechange", () => {
      if (this.pc === pc && ["failed", "closed"].includes(pc.connectionState)) this._lost("connection " + pc.connectionState);
    });
    this.sessionEnd = null;
    this._watchSession(pc, this.resource);
    const start = this.frames;
    await Promise.race([gotTrack, new Promise((r) => setTimeout(r, FIRST_FRAME_MS))]);
    this.video.play().catch(() => {});  // resolves only once media flows: not awaited
    await this._firstFrame(start, () => this.sessionEnd);
  }

  /** The WHEP session's events through the gateway (hub/ui/session_events.py): "closed"
   * (the relay ended it) and "relay-lost" (the relay died) end the view at once, where the
   * stall watch would wait 1.5 s; a stream broken without either (the hub restarting, the
   * media going on) is opened again. */
  async _watchSession(pc, resource) {
    while (this.pc === pc && !this.stopped) {
      const abort = new AbortController();
      this.events = abort;
      let event = null;
      try {
        const r = await fetch(`${resource}/events`, { signal: abort.signal });
        event = r.status === 404 ? "closed" : r.ok ? await sessionEnd(r.body) : null;
      } catch { /* no hub for now: look again */ }
      if (this.pc !== pc || this.stopped) return;
      const why = { "relay-lost": "relay connection lost", closed: "session closed by the relay" }[event];
      const relayGone = event === "relay-lost";
      // Before the first frame, start() is waiting on it: fail that wait (502: relay down).
      if (why && this.state !== "live") return void (this.sessionEnd = Object.assign(new Error(why), { status: relayGone ? 502 : undefined }));
      if (why) return this._lost(why, { relayGone });
      await new Promise((r) => setTimeout(r, EVENTS_RETRY_MS));
    }
  }

  /** Resolves on the first frame shown; throws what `ended()` returns (a session closed). */
  async _firstFrame(start, ended = () => null) {
    const deadline = Date.now() + FIRST_FRAME_MS;
    while (this.frames === start) {
      if (this.stopped) throw new Error("stopped");
      if (ended()) throw ended();
      if (Date.now() > deadline) throw new Error("no video within 10 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    this._watchStall();
  }

  _countFrames() {
    const gen = this.gen = (this.gen || 0) + 1;  // one counting chain, also after resume()
    const tick = () => {
      if (this.stopped || gen !== this.gen) return;
      this.frames++;
      this.lastFrameAt = Date.now();
      this.video.dataset.frames = this.frames;
      this.video.requestVideoFrameCallback(tick);
    };
    this.video.requestVideoFrameCallback(tick);
  }

  /** A frame WebCodecs painted on the canvas: counted as the <video>'s are. */
  _painted() {
    this.frames++;
    this.lastFrameAt = Date.now();
    this.video.dataset.frames = this.frames;
  }

  _watchStall() {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      // A hidden page paints no frames (no requestVideoFrameCallback): not a stall.
      if (document.hidden) return void (this.lastFrameAt = Date.now());
      if (this.state === "live" && Date.now() - this.lastFrameAt > STALL_MS) this._lost("video stalled");
    }, STALL_CHECK_MS);
  }

  /** The view stopped playing: access ended (say so, stop), else try again. `relayGone`:
   * the relay died (nothing to ask it why); `decodeError`: WebCodecs failed mid-stream. */
  async _lost(why, { decodeError = false, relayGone = false } = {}) {
    if (this.stopped) return;
    this._closePc();
    // WebCodecs failing mid-stream: the decoder was reset (closed); the next step takes over.
    if (decodeError && this.path.step === "webcodecs" && this._fall(why)) return this.start();
    const ended = relayGone ? null : await this._whyEnded();
    if (ended) {  // access was taken away: say so, and do not knock again
      this.stopped = true;
      this.video.dataset.ended = ended.code;
      const reason = t(`core.view.ended.${ended.code}`);
      return this.status("offline", t("core.view.ended", { reason }));
    }
    this._retryLater("connecting", why, relayGone);
  }

  /** start() again after the back-off (longer with each failure in a row). */
  _retryLater(state, why, relayWasDown = false) {
    this.status(state, why);
    this.relayWasDown = relayWasDown;
    const wait = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)] * (1 + RETRY_JITTER * (2 * Math.random() - 1));
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.start(), wait);
  }

  /** Why the relay ended this view ({code, reason}), or null when access did not end it. */
  async _whyEnded() {
    if (!this.session) return null;
    try {
      const path = `${encodeURIComponent(this.camera)}/${encodeURIComponent(this.session)}`;
      const r = await fetch(`${RELAY}/sessions/${path}`);
      return r.ok ? (await r.json()).ended : null;
    } catch {
      return null;
    }
  }

  /** Refreshed snapshots until WebRTC is worth trying again (every 30 s). */
  _fallback(why) {
    this.status("connecting", why);
    this.img.hidden = false;
    let since = Date.now();
    const once = async () => {
      if (this.stopped) return;
      const url = `${RELAY}/snapshot/${encodeURIComponent(this.camera)}.jpg?width=640&token=${encodeURIComponent(this.token)}`;
      try {
        const r = await fetch(url);
        if (r.status === 401) this.token = (await playToken(this.camera)).token;
        if (!r.ok) throw new Error(`snapshot ${r.status}`);
        const old = this.img.src;
        this.img.src = URL.createObjectURL(await r.blob());
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
        this.frames++;
        this.img.dataset.frames = this.frames;
        this.status("fallback", why);
      } catch (e) {
        this.status("offline", e.message);
      }
      if (Date.now() - since > FALLBACK_MS) {
        since = Date.now();
        return this.start();
      }
      this.timer = setTimeout(once, this.state === "offline" ? 5000 : SNAPSHOT_MS);
    };
    once();
  }

  /** A full-resolution JPEG of the camera now. */
  async snapshot() {
    const t = (await playToken(this.camera, ["snapshot"])).token;
    const r = await fetch(`${RELAY}/snapshot/${encodeURIComponent(this.camera)}.jpg`, { headers: { Authorization: `Bearer ${t}` } });
    if (!r.ok) throw new Error(`snapshot failed (${r.status})`);
    return r.blob();
  }

  _closePc() {
    clearInterval(this.timer);
    clearTimeout(this.timer);
    const pc = this.pc, resource = this.resource, ws = this.ws;
    if (this.events) this.events.abort();
    this.events = null;
    this.pc = null;
    this.resource = null;
    this.ws = null;
    if (ws) ws.stop();
    if (pc) pc.close();
    if (resource) fetch(resource, { method: "DELETE" }).catch(() => {});
  }

  /** Live again after stop() (the timeline hands the video back from recorded footage). */
  resume() {
    this.stopped = false;
    this.failures = 0;
    this._countFrames();
    this.start();
  }

  /** Switch between the camera's main and sub stream (grid size, full screen): reconnects. */
  setProfile(profile) {
    if (profile === this.profile || this.stopped) return;
    this.profile = profile;
    this.video.dataset.profile = this._profile();
    if (this.transcode) return;  // the transcode is the one stream this browser can decode
    if (this.state === "live" || this.state === "connecting") {
      clearTimeout(this.retry);
      this._closePc();
      this.start();
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    this._closePc();
    this.video.srcObject = null;
    this.path.hideCanvas();
    delete this.video.dataset.transport;
  }
}
