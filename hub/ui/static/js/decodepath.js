// Which decoder plays a camera (#16): "native" (the <video> element: WebRTC, or fMP4 into MSE,
// H.265 passed through), "webcodecs" (fMP4 decoded by VideoDecoder onto a <canvas>), or
// "transcode" (the relay's "h264" profile). A step that cannot decode the camera is left for
// the next with its reason kept; later tiles of the same camera on this page start where it
// settled, so a wall of H.265 tiles does not try every step for every tile.
import { t } from "./i18n.js";

const ORDER = ["native", "webcodecs", "transcode"];
const FORCED = { mse: "native", webcodecs: "webcodecs", transcode: "transcode" };
const settled = new Map();  // camera -> step this page found that decodes it

/** ?decoder=webcodecs|mse|transcode in the page's URL (before or inside the #route): a
 * forced first step, for tests and for field engineers diagnosing a wall. */
export function forcedDecoder() {
  const query = location.search + "&" + (location.hash.split("?")[1] || "");
  const want = new URLSearchParams(query).get("decoder");
  return FORCED[want] ? want : "auto";
}

export class DecodePath {
  constructor(camera, video) {
    this.camera = camera;
    this.video = video;
    this.force = forcedDecoder();
    this.step = settled.get(camera) || FORCED[this.force] || "native";
    this.hevc = false;  // learnt from the relay (WHEP 415, the fMP4 init's codec string)
    this.failed = new Set();
    this.reasons = [];
    this.canvas = null;
  }

  /** The profile asked of the relay: the camera's own, or its H.264 transcode. */
  profile(own) { return this.step === "transcode" ? "h264" : own; }

  /** WebRTC is only for the <video> decoding the relay's H.264 (native or transcoded). */
  webrtc(transport) {
    return transport !== "fmp4" && this.force !== "mse" && this.step !== "webcodecs";
  }

  /** Leaves the current step for `why`; true when another step is worth a start(). */
  fall(why) {
    this.failed.add(this.step);
    this.reasons.push(`${this.step === "native" ? "MSE" : this.step}: ${why}`);
    const next = ORDER.find((s) => !this.failed.has(s) && (s !== "transcode" || this.hevc));
    console.info(`cityhub player ${this.camera}: ${why}; ${next ? "trying " + next : "no decoder left"}`);
    this.video.dataset.fallbacks = this.reasons.join(" | ");
    if (!next) return false;
    this.step = next;
    settled.set(this.camera, next);
    if (next !== "webcodecs") this.hideCanvas();
    return true;
  }

  /** A <canvas> in place of the <video> for WebCodecs' frames. */
  showCanvas() {
    if (!this.canvas) {
      this.canvas = document.createElement("canvas");
      this.canvas.className = "webcodecs";
      this.video.after(this.canvas);
    }
    this.video.hidden = true;
    return this.canvas;
  }

  hideCanvas() {
    this.canvas?.remove();
    this.canvas = null;
    this.video.hidden = false;
  }

  /** Marks the step that plays now (video.dataset.decoder) for badges and tests. */
  live() {
    this.video.dataset.decoder = this.step;
    if (this.hevc) this.video.dataset.codec = "h265";
  }
}

/** The decode path's badge on a tile (`badge`, a span), hidden for the usual: H.264 played
 * by the <video>. Its tooltip says why earlier steps were left. */
export function showDecode(badge, video) {
  const step = video.dataset.decoder;
  badge.hidden = !step || (step === "native" && video.dataset.codec !== "h265");
  if (badge.hidden) return;
  const fallbacks = video.dataset.fallbacks;
  badge.dataset.step = step;
  badge.textContent = t(`core.decode.${step}`);
  badge.title = fallbacks ? t("core.decode.fallbacks", { reasons: fallbacks }) : t(`core.decode.${step}.title`);
}
