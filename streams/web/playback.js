// Recorded footage over a WebSocket into Media Source Extensions (streams/playback/session.py).
// const p = await recordedPlay(video, "ws://relay/playback/cam1", token, { at, speed: 1 });
// p.play(at, speed) seeks or changes speed; p.pause(); p.resume(); p.wallTime() is the
// recorded instant on screen (unix s); p.onEnd(cb) when the footage runs out; p.stop().
export function recordedPlay(video, url, token, { at, speed = 1 } = {}) {
  const ws = new WebSocket(url + (token ? (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : ""));
  ws.binaryType = "arraybuffer";
  let timeline = null;  // {start, speed, media, sb, queue}
  let onEnd = () => {};

  function pump() {
    const t = timeline;
    if (!t || !t.sb || t.sb.updating || !t.queue.length) return;
    try { t.sb.appendBuffer(t.queue.shift()); } catch (e) { ws.close(4000, "MSE append failed: " + e.name); }
  }

  function newTimeline(hello) {
    const media = new MediaSource();
    const t = { start: hello.start, speed: hello.speed, media, sb: null, queue: [] };
    if (video.src.startsWith("blob:")) URL.revokeObjectURL(video.src);
    video.src = URL.createObjectURL(media);
    media.addEventListener("sourceopen", () => {
      t.sb = media.addSourceBuffer(hello.mime);
      t.sb.addEventListener("updateend", pump);
      pump();
    }, { once: true });
    video.muted = true;
    video.play().catch(() => {});
    timeline = t;
  }

  const api = {
    ws,
    play(instant, rate = 1) { ws.send(JSON.stringify({ type: "play", at: instant, speed: rate })); },
    pause() { video.pause(); ws.send(JSON.stringify({ type: "pause" })); },
    resume() { ws.send(JSON.stringify({ type: "resume" })); video.play().catch(() => {}); },
    wallTime() { return timeline ? timeline.start + video.currentTime * timeline.speed : null; },
    get speed() { return timeline ? timeline.speed : speed; },
    onEnd(cb) { onEnd = cb; },
    stop() { ws.close(1000); if (video.src.startsWith("blob:")) URL.revokeObjectURL(video.src); video.removeAttribute("src"); video.load(); },
  };

  return new Promise((resolve, reject) => {
    ws.onopen = () => { api.play(at, speed); resolve(api); };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        const msg = JSON.parse(ev.data);
        if (msg.type === "init") {
          if (!MediaSource.isTypeSupported(msg.mime)) return ws.close(4415, "browser cannot decode " + msg.mime);
          newTimeline(msg);
        } else if (msg.type === "end") onEnd(msg.at);
        return;
      }
      if (timeline) { timeline.queue.push(ev.data); pump(); }
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => reject(new Error(`playback WebSocket closed (${ev.code} ${ev.reason})`));
  });
}
