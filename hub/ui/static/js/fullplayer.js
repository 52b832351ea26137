// The full-screen player: one camera, live or recorded, with its timeline (timeline.js).
// openPlayer("cam", { name, at }) opens it live, or playing the recording from `at` (unix s).
import { showDecode } from "./decodepath.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { CameraPlayer } from "./player.js";
import { Timeline } from "./timeline.js";

let open = null;  // the player shown now (one at a time)

export function openPlayer(camera, { name = camera, at = null, transport = "auto" } = {}) {
  open?.close();
  const video = h("video", { autoplay: true, muted: true, playsInline: true });
  video.muted = true;
  const img = h("img.fallback", { hidden: true, alt: "" });
  const state = h("span.state");
  const decode = h("span.decode", { hidden: true });
  const el = h("div.fullplayer", { id: "full-player", dataset: { camera } });
  const live = new CameraPlayer(video, img, camera, (s, why) => {
    el.dataset.status = s;
    state.textContent = t(`core.status.${s}`);
    state.title = why || "";
    showDecode(decode, video);
  }, transport);
  const timeline = new Timeline({ camera, video, live, onMode: (mode) => {
    if (mode === "playback") state.textContent = t("recording.status.playback");
  } });
  const close = () => {
    timeline.close();
    live.stop();
    el.remove();
    document.removeEventListener("keydown", onKey);
    if (open?.el === el) open = null;
  };
  const onKey = (e) => e.key === "Escape" && close();
  document.addEventListener("keydown", onKey);
  el.append(
    h("div.fp-bar", h("span.tilename", name), state, decode, h("span.spacer"),
      h("button.icon", { id: "full-player-close", title: t("recording.close"), "aria-label": t("recording.close"), onclick: close }, "✕")),
    h("div.fp-video", video, img), timeline.el);
  document.body.append(el);
  if (at == null) live.start();
  else timeline.seek(at);
  open = { el, close, timeline };
  return open;
}

/** Closes the full-screen player, if one is open (the page is left). */
export function closePlayer() { open?.close(); }
