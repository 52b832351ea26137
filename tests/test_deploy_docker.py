"""deploy/docker/Dockerfile, checked without a container engine (none on the build machines).

The runtime package filter is run on the real package list; every COPY source exists;
the image runs as a non-root user with cityhub as its entrypoint.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"


def test_runtime_packages_keep_the_media_stack_and_drop_test_tools(tmp_path):
    text = DOCKERFILE.read_text()
    pipeline = re.search(r"RUN (grep -vE .*?) \\\n\s+> /tmp/runtime-packages.txt", text, re.S)
    assert pipeline, "runtime package filter not found in the Dockerfile"
    command = (
        pipeline.group(1)
        .replace("\\\n", " ")
        .replace("/tmp/debian-packages.txt", str(ROOT / "deploy" / "setup" / "debian-packages.txt"))
    )
    kept = set(
        subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert {
        "python3-gi",
        "gir1.2-gst-rtsp-server-1.0",
        "gstreamer1.0-plugins-bad",
        "gstreamer1.0-libav",
        "mosquitto",
    } <= kept
    assert not kept & {"chromium", "chromium-driver", "postgresql", "docker-compose", "make", "git"}


def test_copy_sources_exist_and_image_is_unprivileged():
    text = DOCKERFILE.read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            *sources, _dest = line.split()[1:]
            for src in sources:
                assert (ROOT / src).exists(), src
    assert re.search(r"^USER cityhub$", text, re.M)
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "cityhub"]' in text
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [r for r in ignore if r.strip() and not r.startswith("#")]
    assert rules[0] == "**"  # deny by default, then an allow-list: no .venv, .git or secrets
    assert not any(r.startswith("!deploy/compose") or r == "!deploy/**" for r in rules)


def _dockerignore_rules() -> list[str]:
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    return [r.strip() for r in ignore if r.strip() and not r.startswith("#")]


def test_every_package_reaches_the_image_through_the_dockerignore():
    """Each package the project installs (benchmarks and devkit included, so that
    ``python -m bench.X`` runs in the image) is COPYed, and the build context sends it:
    a COPY of a folder the dockerignore denies fails the build."""
    copied = {
        src
        for line in DOCKERFILE.read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for src in line.split()[1:-1]
    }
    allowed = {r[1:].removesuffix("/**") for r in _dockerignore_rules() if r.startswith("!")}
    assert copied <= allowed, copied - allowed
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    packages = {p.removesuffix("*") for p in include}
    assert {"bench", "devkit", "core", "gb28181"} <= packages
    assert packages <= copied, packages - copied


def test_bench_target_has_what_benchmarks_start_and_the_default_stays_lean():
    text = DOCKERFILE.read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    names = [s.split("\n", 1)[0] for s in stages]
    assert names[0].endswith(" AS runtime") and names[-1].strip() == "runtime", names
    bench = next(s for s in stages if s.startswith("runtime AS bench"))
    assert re.search(r"apt-get install .*\bpostgresql\b.*\bchromium\b", bench)
    assert "CITYHUB_BENCH_RESULTS=" in bench  # the installed package is not writable
    assert re.search(r"^USER cityhub$", bench, re.M)
