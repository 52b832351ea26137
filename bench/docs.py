"""The READMEs' figures, generated from ``bench/results/*.json`` (never typed by hand).

``python -m bench.docs`` rewrites every block between ``<!-- bench:figures:start -->`` and
``<!-- bench:figures:end -->`` (or ``bench:relay``, ``bench:soak``, ``bench:restore``) in README.md,
deploy/README.md and streams/README.md; ``--check`` exits non-zero when a README differs
from what it would write. Each row names the benchmark run it comes from, the machine and the date.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import RESULTS

ROOT = Path(__file__).resolve().parents[1]
#: README -> the tables it carries
DOCS: dict[str, list[str]] = {
    "README.md": ["figures"],
    "deploy/README.md": ["figures", "soak", "restore"],
    "streams/README.md": ["relay"],
}

Row = tuple[str, str, str]  # figure, value, baseline measured in the same run


def _k(n: float) -> str:
    return f"{n / 1000:.1f}k /s" if n >= 1000 else f"{n:.0f} /s"


def _store(r: dict[str, Any]) -> list[Row]:
    n = f"{r['n_events']:,} events, {r['n_readings']:,} readings"
    return [
        (f"events stored/s through the writer ({n})", _k(r["events_per_s"]),
         f"raw COPY {_k(r['copy_events_per_s'])}"),
        ("readings stored/s through the writer", _k(r["readings_per_s"]),
         f"raw COPY {_k(r['copy_readings_per_s'])}"),
        ("query p95: latest 100 at a site / per-minute 24 h / hourly 30 d / series",
         " / ".join(f"{r[k]} ms" for k in ("q_latest_p95_ms", "q_minute_p95_ms",
                                            "q_hourly_p95_ms", "q_series_p95_ms")), "–"),
    ]


def _ingest(r: dict[str, Any]) -> list[Row]:
    return [
        (f"MQTT → committed rows, events ({r['events']:,}, {r['events_per_message']} per message)",
         _k(r["events_per_s"]), f"raw COPY {_k(r['copy_events_per_s'])}"),
        (f"MQTT → committed rows, SenML readings ({r['readings']:,})",
         f"{_k(r['readings_per_s'])} ({r['lost']} lost, {r['duplicated']} duplicated)",
         f"raw COPY {_k(r['copy_readings_per_s'])}"),
    ]


def _relay(r: dict[str, Any]) -> list[Row]:
    return [
        (f"relay CPU per camera, {r['resolution']}, {r['streams']} cameras, one reader each",
         f"{r['cpu_per_stream']} cores (×{r['cpu_ratio']})",
         f"bare GStreamer passthrough {r['baseline_cpu_per_stream']} cores"),
        (f"extra relay CPU per WebRTC viewer (viewers), {_webrtc_camera(r)}",
         f"{_views(r)} cores each", "–"),
        ("time to first frame, new RTSP viewer", f"warm {r['ttff_warm_s']} s, cold "
         f"{r['ttff_cold_s']} s", f"straight from the camera {r['ttff_direct_camera_s']} s"),
        *_packet_core(r),
    ]


def _webrtc_camera(r: dict[str, Any]) -> str:
    return r["webrtc_camera"].split(" (")[0]


def _views(r: dict[str, Any]) -> str:
    """Cores per WebRTC viewer at each viewer count: "0.01 (1), 0.004 (10)"."""
    return ", ".join(f"{v} ({n})" for n, v in r["webrtc_cpu_per_viewer"].items())


def _packet_webrtc(r: dict[str, Any], p: dict[str, Any]) -> list[Row]:
    if "webrtc_cpu_per_viewer" not in p:
        return []
    return [("packet core: extra relay CPU per WebRTC viewer (viewers; from the GStreamer "
             "re-serve)", f"{_views(p)} cores each", f"GStreamer core {_views(r)} cores each")]


def _packet_core(r: dict[str, Any]) -> list[Row]:
    """The packet core's rows (streams.core: packet), where the run measured it."""
    p = r.get("packet_core")
    if not p:
        return []
    rss = r["rss_per_stream_mb"]
    return [
        (f"packet core (streams.core: packet): relay CPU per camera, {r['streams']} cameras",
         f"{p['cpu_per_stream']} cores (×{p['cpu_ratio']})",
         f"bare GStreamer passthrough {r['baseline_cpu_per_stream']} cores; "
         f"GStreamer core {r['cpu_per_stream']} cores"),
        ("RSS added per camera (relay with readers minus idle relay)",
         f"packet core {rss['packet']} MB", f"GStreamer core {rss['gstreamer']} MB; "
         f"bare GStreamer relay {r['rss_mb']['baseline']} MB in all"),
        *((f"packet core alone, {x['streams']} cameras, one reader each",
           f"{x['cpu_per_stream']} cores and {x['rss_per_stream_mb']} MB RSS per camera",
           f"{x['rss_mb']} MB in all") for x in p.get("at_scale", [])),
        *_packet_webrtc(r, p),
        ("packet core: time to first frame, new RTSP viewer",
         f"warm {p['ttff_warm_s']} s, cold {p['ttff_cold_s']} s",
         f"straight from the camera {r['ttff_direct_camera_s']} s"),
    ]


def _record(r: dict[str, Any]) -> list[Row]:
    seek = r["playback_seek_first_frame_s"]
    return [
        (f"recording CPU per camera, {r['resolution']}, {r['streams']} cameras, no viewers",
         f"{r['record_cpu_per_stream']} cores (×{r['record_cpu_ratio']})",
         f"bare splitmuxsink{_same_segments(r)} {r['baseline_cpu_per_stream']} cores"),
        ("recording written / dropped frames", f"{r['write_mb_per_s']} MB/s, "
         f"{r['dropped_frames']} dropped", f"cameras send {r['camera_mb_per_s']} MB/s"),
        ("playback: seek to a recorded instant → first frame (p50 / p95)",
         f"{seek['p50']} / {seek['p95']} s", "–"),
    ]


def _same_segments(r: dict[str, Any]) -> str:
    """The baseline's segment length, where the run says it (runs before it cut 60 s)."""
    seg = r.get("segment_s", {}).get("baseline")
    return f" ({seg} s segments)" if seg else ""


def _record_housekeeping(r: dict[str, Any]) -> list[Row]:
    return [
        (f"recording housekeeping pass, {r['housekeeping_cameras']} cameras × {r['days']:g} days "
         "of 10 s segments", f"{r['housekeeping_ms_30d']} ms",
         f"full sort and recount {r['housekeeping_full_sort_ms_30d']} ms"),
        ("playback lookup, a minute at a random instant (median)",
         f"{r['playback_lookup_ms_30d']} ms",
         f"sort and scan {r['playback_lookup_scan_ms_30d']} ms"),
        *([("recording journal of one camera, 30 days of 10 s segments: opening / memory",
            f"{r['journal_open_s_30d_per_camera']} s / {r['journal_mb_30d_per_camera']} MB",
            "–")]
          if "journal_open_s_30d_per_camera" in r else []),
    ]


def _upstream_framing(r: dict[str, Any]) -> list[Row]:
    new, old = r["whole_access_units"], r["baseline_byte_stream"]
    return [(f"relay upstream framing, {r['clip']}: keyframes cut mid-picture, CPU per 1000 "
             "access units", f"{new['aus_cut_mid_picture']} cut, {new['cpu_s_per_1000_aus']} s",
             f"byte-stream chain {old['aus_cut_mid_picture']} cut, "
             f"{old['cpu_s_per_1000_aus']} s")]


def _restore(r: dict[str, Any]) -> list[Row]:
    size = (f"{r['events']:,} events, {r['database_mb']} MB database, "
            f"{r['events_after_backup']:,} events after the base backup")
    return [
        (f"base backup (pg_basebackup + pg_verifybackup), {size}",
         f"{r['base_backup_s']} s ({r['base_backup_mb']} MB)", "–"),
        ("RTO: restore to a point in time until the server accepts writes",
         f"{r['rto_s']} s (copy {r['restore_copy_s']} s, then WAL replay and promotion; "
         f"{r['wal_archived_mb']} MB WAL archived)",
         f"`cp -a` of the same base backup {r['baseline_cp_a_s']} s"),
        (f"RPO on a quiet server (archive_timeout={r['archive_timeout_s']})",
         f"{r['rpo_quiet_s']} s (a lone commit until its WAL was archived)",
         "bound: archive_timeout"),
        ("restored vs committed before the target",
         f"{r['restored_events']:,} = {r['events']:,} events; audit chain verifies "
         f"({r['restored_audit_entries']}); {r['restored_media']} media match", "–"),
    ]


def _edge(r: dict[str, Any]) -> list[Row]:
    return [
        (f"outbox → MQTT QoS 1, {r['batch_max']} events per message",
         f"live {_k(r['live_events_per_s'])}; drain {_k(r['drain_events_per_s'])} "
         f"of {r['backlog_events']:,} (cap {_k(r['drain_rate_limit'])}); "
         f"live p99 {r['live_latency_ms_p99']} ms while draining",
         f"raw paho {_k(r['baseline_paho_qos1_events_per_s'])} at the same batching; "
         f"{_k(r['baseline_paho_qos1_events_per_s_unbatched'])} one per message"),
    ]


def _api(r: dict[str, Any]) -> list[Row]:
    return [
        (f"GET /api/v1/events p50, own department ({r['events']:,} events)",
         f"{r['api_own']['p50_ms']} ms (+{r['api_overhead_p50_ms']} ms)",
         f"store query alone {r['store_query']['p50_ms']} ms"),
        ("audit appends/s, 16 waiting callers (group commit)",
         _k(r["audit_batched_16_threads_per_s"]),
         f"one per transaction {_k(r['audit_appends_per_s'])}"),
    ]


def _ui_wall(r: dict[str, Any]) -> list[Row]:
    return [
        ("camera dropped on a wall tile → live WebRTC video (median)",
         f"{r['ui_tile_drop_to_live']['median_ms']} ms (+{r['ui_overhead_median_ms']} ms)",
         f"relay's WHEP client in a loaded page "
         f"{r['baseline_relay_whep_first_frame']['median_ms']} ms"),
        ("4-tile wall, page load → all live",
         f"{r['wall_4_tiles_page_load_to_all_live']['median_ms']} ms", "–"),
    ]


def _incidents(r: dict[str, Any]) -> list[Row]:
    e2i, q, s = r["event_to_incident"], r["queue_page"], r["statistics"]
    return [
        (f"event → incident by rule at {e2i['events_per_s']} events/s, {r['rules']} rules "
         "(p50 / p95)", f"{e2i['p50_ms']} / {e2i['p95_ms']} ms", "–"),
        (f"incident queue page, {r['incidents_in_store']:,} incidents (p95)",
         f"{q['api']['p95_ms']} ms", f"the query alone {q['baseline_direct_query']['p95_ms']} ms"),
        ("incident statistics (p95)", f"{s['api']['p95_ms']} ms",
         f"the query alone {s['baseline_direct_query']['p95_ms']} ms"),
    ]


def _ptz(r: dict[str, Any]) -> list[Row]:
    return [(f"PTZ move through the hub to an ONVIF camera ({r['moves']} moves, p50 / p95)",
             f"{r['hub']['p50_ms']} / {r['hub']['p95_ms']} ms",
             f"direct ONVIF {r['baseline_direct_onvif']['p50_ms']} / "
             f"{r['baseline_direct_onvif']['p95_ms']} ms")]


def _gb28181(r: dict[str, Any]) -> list[Row]:
    d, rs = r["registered_devices"], r["registered_devices"]["restart"]
    inv, cold = r["invite_to_first_frame_s"], r["baseline_rtsp_cold_first_frame_s"]
    live = r["all_streams_live_s"]
    return [
        (f"GB/T 28181 devices registered (digest) and kept alive, keepalive every "
         f"{d['keepalive_s']:g} s ({d['keepalives_per_s']:g}/s): `cityhub sip` CPU",
         f"{d['kept_alive']:,} devices, {d['sip_cpu_cores']} cores",
         f"the devices' own SIP side {d['baseline_device_sims_cpu_cores']} cores; "
         f"store {d['store_cpu_cores']} cores"),
        (f"relay CPU per live PS stream, {r['streams']} × 720p25 over RTP/UDP, one reader each",
         f"{r['ps_cpu_per_stream']} cores (×{r['ps_vs_rtsp_ratio']})",
         f"RTSP path, same clips {r['rtsp_cpu_per_stream']} cores"),
        ("INVITE → first frame, idle gb28181:// camera, 1 s GOP (p50 / p95)",
         f"{inv['p50']} / {inv['p95']} s", f"idle RTSP camera {cold['p50']} / {cold['p95']} s"),
        (f"{r['streams']} idle gb28181:// cameras asked for at once → all live",
         f"{live['ps']} s", f"RTSP cameras {live['rtsp']} s"),
        (f"`cityhub sip` kill -9 → all {d['devices']:,} devices online, heard by the new "
         f"process (next keepalive, every {d['keepalive_s']:g} s)",
         f"{rs['all_online_s']} s (up in {rs['service_up_s']} s; {rs['re_registers']} "
         f"re-REGISTERs, {rs['offline_events']} offline events)",
         f"first registration of all {d['registration_s']} s"),
    ]


def _scale(r: dict[str, Any]) -> str:
    s = r.get("scale") or {}
    if not s:
        return "the demo's 3 cameras, no viewers"
    return (f"{s['cameras']} looped 720p cameras, {s['webrtc_viewers']} WebRTC + "
            f"{s['fmp4_viewers']} fMP4 viewers, {_k(s['events_per_s'])} events, "
            f"{_k(s['readings_per_s'])} readings")


def _soak_held(r: dict[str, Any]) -> tuple[str, str]:
    """What a soak held (events, ERROR lines, viewers' rate) and its largest growth."""
    grown: dict[str, dict[str, float]] = r["growth_second_half_pct"]
    worst = []
    for key, what in (("pss_mb", "PSS"), ("uss_mb", "USS"), ("rss_mb", "RSS"),
                      ("fds", "open files"), ("threads", "threads")):
        if grown and all(key in g for g in grown.values()):
            name = max(grown, key=lambda n: grown[n][key])  # noqa: B023 (used at once)
            worst.append(f"{what} {grown[name][key]} % ({name})")
    growth = "largest growth: " + ", ".join(worst) if worst else "–"
    v = r.get("viewers") or {}
    return (f"{r['events_pushed']:,} events: {r['lost']} lost, {r['duplicated']} duplicated; "
            f"{r['error_lines']} ERROR lines; viewers {v.get('fps_min', '–')} fps at least",
            growth)


def _soak(r: dict[str, Any]) -> list[Row]:
    return [(f"{r['minutes']:g} min, {_scale(r)}", *_soak_held(r))]


def _soak_chaos(r: dict[str, Any]) -> list[Row]:
    rows = [(f"{r['minutes']:g} min with chaos, {_scale(r)}", *_soak_held(r))]
    for kind, f in r["back_s"].items():
        views = f.get("viewers_back") or {}
        played = "; ".join(f"{t} {b['max_s']} s" for t, b in views.items()
                           if b["max_s"] is not None)
        rows.append((f"{kind} {'hung (SIGSTOP)' if kind.endswith('-hang') else 'SIGKILLed'}"
                     " → viewers play again, no reload (slowest viewer)",
                     played or "–", f"{kind.removesuffix('-hang')} serving again {f['back_s']} s"))
    return rows


def _transcode(r: dict[str, Any]) -> list[Row]:
    cpu, first = r["relay_cpu"], r["first_frame"]
    return [
        (f"relay CPU per H.265 → H.264 transcode (h264 profile), {r['source']}, "
         f"{r['streams']} streams, {r['encoder']}",
         f"{r['cpu_per_transcode']} cores ({r['transcode_fps']} fps out)",
         f"H.265 passthrough of the same streams {cpu['h265_passthrough']} cores in all"),
        ("latency the transcode adds (camera frame in → H.264 frame out, median)",
         f"{r['latency_ms']} ms", "–"),
        ("time to first frame, new RTSP reader of the h264 profile",
         f"transcode idle {first['h264_idle_s']} s, running {first['h264_warm_s']} s",
         f"main profile (first reader: next keyframe) {first['main_warm_s']} s"),
    ]


ROWS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "store": _store, "ingest": _ingest, "relay": _relay, "record": _record, "edge": _edge,
    "api": _api,
    "ui_wall": _ui_wall, "incidents": _incidents, "ptz": _ptz, "gb28181": _gb28181,
    "transcode": _transcode, "soak": _soak, "soak-chaos": _soak_chaos,
    "record_housekeeping": _record_housekeeping, "upstream_framing": _upstream_framing,
    "restore": _restore,
}
#: table -> the benchmarks whose rows it carries
TABLES = {"figures": [n for n in ROWS if not n.startswith("soak") and n != "restore"],
          "relay": ["relay", "transcode", "upstream_framing"], "soak": ["soak", "soak-chaos"],
          "restore": ["restore"]}


def table(kind: str, results: Path = RESULTS) -> str:
    lines = ["| benchmark | figure | value | baseline (same run) | measured |",
             "|---|---|---|---|---|"]
    for name in TABLES[kind]:
        path = results / f"{name}.json"
        if not path.exists():
            lines.append(f"| bench.{name} | not measured yet (no bench/results/{name}.json) "
                         "| – | – | – |")
            continue
        r = json.loads(path.read_text(encoding="utf-8"))
        when = f"{r['measured_at'][:10]}, {r['machine']['cpus']} cores ({r['machine']['host']})"
        for figure, value, base in ROWS[name](r):
            lines.append(f"| bench.{name} | {figure} | {value} | {base} | {when} |")
    return "\n".join(lines)


def render(text: str, results: Path = RESULTS) -> str:
    """``text`` with every bench block regenerated."""
    def block(m: re.Match[str]) -> str:
        kind = m.group(1)
        return (f"<!-- bench:{kind}:start -->\n{table(kind, results)}\n"
                f"<!-- bench:{kind}:end -->")

    return re.sub(r"<!-- bench:(\w+):start -->.*?<!-- bench:\1:end -->", block, text,
                  flags=re.S)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.docs", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only report READMEs that differ")
    args = p.parse_args(argv)
    stale = []
    for doc in DOCS:
        path = ROOT / doc
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            stale.append(doc)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print("figures differ from bench/results in: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
