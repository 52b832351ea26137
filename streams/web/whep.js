// Minimal WHEP client (RFC 9725): receive-only video from the cityhub relay, and
// playCamera(): WHEP first, fMP4 over WebSocket (mse.js) where WebRTC cannot pass.
// Usage: const s = await playCamera(video, { whep: "/whep/cam1", fmp4: "ws://relay/fmp4/cam1", token });
//        s.transport is "webrtc" or "fmp4"; s.fallbackReason says why WHEP was given up; s.stop().
// The play token must allow both protocols (hub: POST /cameras/{id}/play {"protocols": ["webrtc", "fmp4"]}).
import { fmp4Play } from "./mse.js";

export class WhepError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

/** Resolves once ICE+DTLS are connected (or rejects: WhepError with .status for HTTP refusals). */
export async function whepPlay(video, endpoint, token, { connectTimeoutMs = 8000 } = {}) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("video", { direction: "recvonly" });
  let stream = null;  // shown only once connected: a failed attempt must not flash the tile
  pc.ontrack = (ev) => { stream = ev.streams[0] || new MediaStream([ev.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  // Non-trickle: wait for ICE gathering so the offer carries every candidate.
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
    setTimeout(resolve, 2000);
  });
  const headers = { "Content-Type": "application/sdp" };
  if (token) headers.Authorization = "Bearer " + token;
  let res;
  try {
    res = await fetch(endpoint, { method: "POST", headers, body: pc.localDescription.sdp });
  } catch (e) {
    pc.close();
    throw new WhepError("WHEP endpoint unreachable: " + e.message, 0);
  }
  if (res.status !== 201) {
    pc.close();
    throw new WhepError("WHEP " + res.status + ": " + (await res.text()).slice(0, 300), res.status);
  }
  const location = new URL(res.headers.get("Location"), new URL(endpoint, location_base())).href;
  const session = {
    transport: "webrtc",
    pc,
    async stop() { pc.close(); await fetch(location, { method: "DELETE" }).catch(() => {}); },
  };
  await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  try {
    await connected(pc, connectTimeoutMs);
  } catch (e) {
    await session.stop();
    throw e;
  }
  if (stream) video.srcObject = stream;
  else pc.addEventListener("track", (ev) => { video.srcObject = ev.streams[0] || new MediaStream([ev.track]); });
  return session;
}

function connected(pc, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new WhepError(`WebRTC did not connect within ${timeoutMs} ms (UDP blocked?)`, 0)), timeoutMs);
    const check = () => {
      if (pc.connectionState === "connected") { clearTimeout(timer); resolve(); }
      if (pc.connectionState === "failed" || pc.connectionState === "closed") {
        clearTimeout(timer);
        reject(new WhepError("WebRTC connection " + pc.connectionState + " (ICE could not pass)", 0));
      }
    };
    pc.addEventListener("connectionstatechange", check);
    check();
  });
}

/** After these fMP4 is worth trying: ICE/network failure (0), codec the offer lacks (415), relay trouble (5xx). */
const worthFallback = (status) => status === 0 || status === 415 || status >= 500;

/** WHEP, else fMP4 over WebSocket (when given); refusals like 401/404 are not retried over fMP4. */
export async function playCamera(video, { whep, fmp4, token, connectTimeoutMs = 8000, onClose } = {}) {
  try {
    return await whepPlay(video, whep, token, { connectTimeoutMs });
  } catch (e) {
    if (!fmp4 || !(e instanceof WhepError) || !worthFallback(e.status)) throw e;
    const session = await fmp4Play(video, fmp4, token, { onClose });
    session.fallbackReason = e.message;
    return session;
  }
}

/** The relay's fMP4 WebSocket URL for a camera, next to its HTTP base (http->ws, https->wss). */
export function fmp4Url(relayBase, camera) {
  const u = new URL(relayBase, location_base());
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = u.pathname.replace(/\/$/, "") + "/fmp4/" + encodeURIComponent(camera);
  return u.href;
}

function location_base() { return globalThis.location ? globalThis.location.href : "http://localhost/"; }
