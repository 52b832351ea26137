"""deploy/docker/Dockerfile, checked without a container engine (none on the build machines).

The runtime package filter is run on the real package list; every COPY source exists;
the image runs as a non-root user with cityhub as its entrypoint.
"""

from __future__ import annotations

import re
import subprocess
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
