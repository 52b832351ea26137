// fMP4 over WebSocket into Media Source Extensions: the relay's fallback where WebRTC
// cannot pass (UDP blocked, no TURN). Protocol: streams/fmp4/websocket.py.
// Usage: const s = await fmp4Play(videoElement, "ws://relay/fmp4/cam1", token); ... s.stop();
const LIVE_LAG_S = 1.5;   // jump to the live edge when further behind than this
const KEEP_S = 20;        // seconds of played video kept in the SourceBuffer

export function fmp4Play(video, url, token, { onClose } = {}) {
  const ws = new WebSocket(url + (token ? (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : ""));
  ws.binaryType = "arraybuffer";
  const media = new MediaSource();
  const queue = [];
  let sb = null;
  let stopped = false;
  video.srcObject = null;
  video.src = URL.createObjectURL(media);
  const opened = new Promise((resolve) => media.addEventListener("sourceopen", resolve, { once: true }));

  const session = {
    transport: "fmp4",
    ws,
    stop() {
      stopped = true;
      ws.close(1000);
      if (video.src.startsWith("blob:")) URL.revokeObjectURL(video.src);
      video.removeAttribute("src");
      video.load();
    },
  };

  function pump() {
    if (!sb || sb.updating || stopped) return;
    const b = sb.buffered;
    if (b.length) {
      const start = b.start(b.length - 1), end = b.end(b.length - 1);
      // Live: stay near the newest frame (a new viewer starts on the GOP's keyframe,
      // a skipped backlog leaves a gap), and forget what was played long ago.
      if (video.currentTime < start || end - video.currentTime > LIVE_LAG_S) video.currentTime = Math.max(start, end - 0.2);
      if (video.currentTime - b.start(0) > KEEP_S * 2) return sb.remove(b.start(0), video.currentTime - KEEP_S);
    }
    if (!queue.length) return;
    try {
      sb.appendBuffer(queue.shift());
    } catch (e) {  // QuotaExceeded or a decode error: give up this session, the caller retries
      ws.close(4000, "MSE append failed: " + e.name);
    }
  }

  return new Promise((resolve, reject) => {
    let ready = false;
    ws.onmessage = async (ev) => {
      if (typeof ev.data === "string") {
        const hello = JSON.parse(ev.data);
        if (hello.type !== "init") return;
        await opened;
        // Stopped while the MediaSource was opening (a wall re-gridded at once): nothing to set up.
        if (stopped || media.readyState !== "open") return reject(new Error("fMP4 session stopped"));
        if (!MediaSource.isTypeSupported(hello.mime)) {
          ws.close(4415, "browser cannot decode " + hello.mime);
          return reject(new Error("this browser cannot decode " + hello.mime));
        }
        sb = media.addSourceBuffer(hello.mime);
        sb.addEventListener("updateend", pump);
        session.mime = hello.mime;
        ready = true;
        video.muted = true;
        video.play().catch(() => {});
        resolve(session);
        pump();
      } else {
        queue.push(ev.data);
        await opened;
        pump();
      }
    };
    ws.onerror = () => {};  // onclose follows with the code and reason
    ws.onclose = (ev) => {
      const err = new Error(`fMP4 WebSocket closed (${ev.code}${ev.reason ? ": " + ev.reason : ""})`);
      if (!ready) reject(err);
      else if (!stopped && onClose) onClose(err);
    };
  });
}
