// fMP4 over WebSocket decoded by WebCodecs onto a <canvas>: for a codec the browser's MSE
// lacks but its VideoDecoder has (H.265 on many Chromium builds). Same stream and protocol as
// mse.js (streams/fmp4/websocket.py); codec-agnostic (avc1, hvc1, hev1), so H.264 exercises it.
// The relay's fMP4 is simple: one track, one moof+mdat per WebSocket message.
// Usage: const s = await webcodecsPlay(canvas, "ws://relay/fmp4/cam1", token, { onClose, onFrame }); s.stop();
const MAX_QUEUE = 8;        // decoded frames waiting to be painted: beyond, the oldest is dropped
const MAX_DECODE_QUEUE = 30; // chunks the decoder has not taken: beyond, skip to the next keyframe
const LATE_MS = 300;         // a frame this far behind its time resets the clock to it

/** Child boxes of `buf[start, end)`: [{type, start (payload), end}]. */
function boxes(view, start, end) {
  const out = [];
  for (let at = start; at + 8 <= end;) {
    let size = view.getUint32(at), header = 8;
    if (size === 1) { size = Number(view.getBigUint64(at + 8)); header = 16; }
    if (size === 0) size = end - at;
    if (size < header || at + size > end) throw new Error("bad MP4 box");
    const type = String.fromCharCode(...new Uint8Array(view.buffer, view.byteOffset + at + 4, 4));
    out.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return out;
}

/** The first box found along `path` (["moov", "trak", ...]) below [start, end). */
function find(view, path, start = 0, end = view.byteLength) {
  let box = { start, end };
  for (const type of path) {
    box = boxes(view, box.start, box.end).find((b) => b.type === type);
    if (!box) return null;
  }
  return box;
}

/** From the init segment: the track's timescale and the decoder configuration record
 * (avcC/hvcC payload), WebCodecs' `description`, which the chunks' length-prefixed NAL need. */
export function parseInit(buf) {
  const view = new DataView(buf);
  const mdia = find(view, ["moov", "trak", "mdia"]);
  const mdhd = find(view, ["mdhd"], mdia.start, mdia.end);
  const timescale = view.getUint32(mdhd.start + (view.getUint8(mdhd.start) === 1 ? 20 : 12));
  const stsd = find(view, ["minf", "stbl", "stsd"], mdia.start, mdia.end);
  const entry = boxes(view, stsd.start + 8, stsd.end)[0];  // after version, flags, count
  const config = boxes(view, entry.start + 78, entry.end)  // after the VisualSampleEntry fields
    .find((b) => b.type === "avcC" || b.type === "hvcC");
  const description = config ? new Uint8Array(buf.slice(config.start, config.end)) : undefined;
  return { timescale, sampleEntry: entry.type, description };
}

/** tfhd's defaults (ISO/IEC 14496-12 8.8.7): the fields its flags say are there. */
function parseTfhd(view, box) {
  const flags = view.getUint32(box.start) & 0xffffff;
  let at = box.start + 8;  // after version+flags and track_ID
  const d = {};
  if (flags & 0x1) { d.base = Number(view.getBigUint64(at)); at += 8; }
  if (flags & 0x2) at += 4;
  if (flags & 0x8) { d.duration = view.getUint32(at); at += 4; }
  if (flags & 0x10) { d.size = view.getUint32(at); at += 4; }
  if (flags & 0x20) d.flags = view.getUint32(at);
  return d;
}

/** The samples of one moof+mdat: [{data, time, duration, key}] in track timescale units. */
export function parseSegment(buf, nextTime) {
  const view = new DataView(buf);
  const moof = find(view, ["moof"]);
  const out = [];
  for (const traf of boxes(view, moof.start, moof.end).filter((b) => b.type === "traf")) {
    const kids = boxes(view, traf.start, traf.end);
    const d = parseTfhd(view, kids.find((b) => b.type === "tfhd"));
    const tfdt = kids.find((b) => b.type === "tfdt");
    let time = nextTime;
    if (tfdt) time = view.getUint8(tfdt.start) === 1 ? Number(view.getBigUint64(tfdt.start + 4)) : view.getUint32(tfdt.start + 4);
    for (const trun of kids.filter((b) => b.type === "trun")) time = readTrun(view, buf, trun, d, moof.start - 8, time, out);
  }
  return out;
}

/** One trun's samples appended to `out`; returns the decode time after them. */
function readTrun(view, buf, trun, d, moofAt, time, out) {
  const flags = view.getUint32(trun.start) & 0xffffff;
  const count = view.getUint32(trun.start + 4);
  let at = trun.start + 8;
  let offset = (d.base ?? moofAt);
  if (flags & 0x1) { offset += view.getInt32(at); at += 4; }
  let first = null;
  if (flags & 0x4) { first = view.getUint32(at); at += 4; }
  for (let i = 0; i < count; i++) {
    let duration = d.duration ?? 0, size = d.size ?? 0, sflags = d.flags ?? 0;
    if (flags & 0x100) { duration = view.getUint32(at); at += 4; }
    if (flags & 0x200) { size = view.getUint32(at); at += 4; }
    if (flags & 0x400) { sflags = view.getUint32(at); at += 4; }
    if (flags & 0x800) at += 4;  // composition offset: no B-frames from cameras (mp4mux writes 0)
    if (i === 0 && first !== null) sflags = first;
    const key = !(sflags & 0x10000);  // sample_is_non_sync_sample
    out.push({ data: new Uint8Array(buf, offset, size), time, duration, key });
    offset += size;
    time += duration;
  }
  return time;
}

/** Whether this browser's WebCodecs decodes `codec` with `description` (a Promise). */
export async function canDecode(codec, description) {
  if (typeof VideoDecoder === "undefined") return { supported: false, why: "no VideoDecoder in this browser" };
  try {
    const r = await VideoDecoder.isConfigSupported({ codec, description, hardwareAcceleration: "no-preference" });
    return { supported: !!r.supported, why: r.supported ? "" : `VideoDecoder.isConfigSupported says no for ${codec}` };
  } catch (e) {
    return { supported: false, why: `${codec}: ${e.message}` };
  }
}

/** Paints decoded frames on `canvas` at their timestamps against the wall clock, late ones
 * dropped, every frame closed (a VideoFrame held pins decoder memory). Timers, not
 * requestAnimationFrame: a hidden or throttled page still drains the queue. */
class Painter {
  constructor(canvas, onFrame) {
    Object.assign(this, { canvas, onFrame, queue: [], clock: null, timer: null, painted: 0, dropped: 0, stopped: false });
    this.ctx = canvas.getContext("2d");
  }

  push(frame) {
    if (this.stopped) return frame.close();
    this.queue.push(frame);
    while (this.queue.length > MAX_QUEUE) this.drop(this.queue.shift());
    this.schedule();
  }

  drop(frame) {
    frame.close();
    this.canvas.dataset.dropped = ++this.dropped;
  }

  /** A timer for the oldest frame's time. A frame arriving late (slow network, a loaded
   * machine) moves the clock: it is shown at once, not lost. */
  schedule() {
    if (this.timer !== null || !this.queue.length || this.stopped) return;
    const now = performance.now();
    if (this.clock === null || now - this.due(this.queue[0]) > LATE_MS) this.clock = now - this.queue[0].timestamp / 1000;
    this.timer = setTimeout(() => { this.timer = null; this.paint(); this.schedule(); }, Math.max(0, this.due(this.queue[0]) - now));
  }

  /** The newest frame that is due now is painted; older due ones are dropped. */
  paint() {
    const now = performance.now();
    let frame = null;
    while (this.queue.length && this.due(this.queue[0]) <= now) {
      if (frame) this.drop(frame);
      frame = this.queue.shift();
    }
    if (frame) this.draw(frame);
  }

  due(frame) { return this.clock + frame.timestamp / 1000; }

  draw(frame) {
    const { canvas } = this;
    if (canvas.width !== frame.displayWidth || canvas.height !== frame.displayHeight) {
      canvas.width = frame.displayWidth;
      canvas.height = frame.displayHeight;
    }
    this.ctx.drawImage(frame, 0, 0);
    frame.close();
    canvas.dataset.painted = ++this.painted;
    this.onFrame?.();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const f of this.queue.splice(0)) f.close();
  }
}

/** A VideoDecoder fed from the fMP4 samples; a full decoder queue skips to the next keyframe. */
class Feeder {
  constructor(decoder, timescale) {
    Object.assign(this, { decoder, timescale, next: 0, needKey: true, decoded: 0 });
  }

  segment(buf) {
    const samples = parseSegment(buf, this.next);
    for (const s of samples) {
      this.next = s.time + s.duration;
      if (this.decoder.decodeQueueSize > MAX_DECODE_QUEUE) this.needKey = true;
      if (this.needKey && !s.key) continue;
      this.needKey = false;
      this.decoder.decode(new EncodedVideoChunk({
        type: s.key ? "key" : "delta", data: s.data,
        timestamp: Math.round(s.time * 1e6 / this.timescale), duration: Math.round(s.duration * 1e6 / this.timescale),
      }));
    }
  }
}

const codecOf = (mime) => (/codecs="([^"]+)"/.exec(mime) || [])[1] || "";

/** Plays the relay's fMP4 WebSocket on `canvas` through WebCodecs. Resolves with the session
 * once the decoder is configured; rejects ("WebCodecs cannot decode ...") when this browser's
 * VideoDecoder lacks the stream's codec. onClose(err) after that: socket closed or decode error
 * (err.decodeError), onFrame() per painted frame. */
export function webcodecsPlay(canvas, url, token, { onClose, onFrame } = {}) {
  const ws = new WebSocket(url + (token ? (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : ""));
  ws.binaryType = "arraybuffer";
  const painter = new Painter(canvas, onFrame);
  let decoder = null, feeder = null, codec = "", stopped = false, ready = false, chain = Promise.resolve();
  const session = {
    transport: "fmp4", decoder: "webcodecs", ws,
    get decoded() { return feeder?.decoded || 0; },
    stop() {
      stopped = true;
      ws.close(1000);
      painter.stop();
      if (decoder && decoder.state !== "closed") decoder.close();
    },
  };
  return new Promise((resolve, reject) => {
    const fail = (err) => {
      if (stopped) return;
      if (!ready) { session.stop(); return reject(err); }
      session.stop();
      onClose?.(err);
    };
    const configure = async (init) => {
      const { timescale, description } = parseInit(init);
      const can = await canDecode(codec, description);
      if (stopped) return reject(new Error("WebCodecs session stopped"));
      if (!can.supported) {
        ws.close(4415, "browser cannot decode " + codec);
        stopped = true;
        painter.stop();
        return reject(Object.assign(new Error(`WebCodecs cannot decode ${codec} (${can.why})`), { codec }));
      }
      decoder = new VideoDecoder({
        output: (frame) => { canvas.dataset.decoded = ++feeder.decoded; painter.push(frame); },
        error: (e) => fail(Object.assign(new Error(`WebCodecs decode error: ${e.message}`), { decodeError: true, codec })),
      });
      decoder.configure({ codec, description, hardwareAcceleration: "no-preference", optimizeForLatency: true });
      feeder = new Feeder(decoder, timescale);
      Object.assign(session, { codec, mime: `video/mp4; codecs="${codec}"` });
      ready = true;
      resolve(session);
    };
    const handle = async (data) => {
      if (stopped) return;
      if (typeof data === "string") {
        const hello = JSON.parse(data);
        if (hello.type === "init") codec = codecOf(hello.mime);
      } else if (!decoder) {
        await configure(data);
      } else {
        try { feeder.segment(data); } catch (e) { fail(Object.assign(new Error(`WebCodecs decode error: ${e.message}`), { decodeError: true, codec })); }
      }
    };
    ws.onmessage = (ev) => { chain = chain.then(() => handle(ev.data)).catch((e) => fail(e)); };
    ws.onerror = () => {};  // onclose follows with the code and reason
    ws.onclose = (ev) => fail(new Error(`fMP4 WebSocket closed (${ev.code}${ev.reason ? ": " + ev.reason : ""})`));
  });
}
