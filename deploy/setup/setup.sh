#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 / Ubuntu machine: Debian packages,
# a virtualenv in .venv and the project installed into it. Fast when done.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PKGS=$(grep -vE '^\s*(#|$)' deploy/setup/debian-packages.txt | tr '\n' ' ')
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null | awk '$NF!="installed"{print $1}' || true)
# dpkg-query omits packages it has never heard of: compare counts too.
known=$(dpkg-query -W -f='${Package}\n' $PKGS 2>/dev/null | wc -l || true)
want=$(echo $PKGS | wc -w)
if [ -n "$missing" ] || [ "$known" -lt "$want" ]; then
  echo "setup: installing Debian packages ($want wanted)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
fi
# The distribution's services are not used by cityhub (it runs private ones);
# installing the packages must not leave a port taken on a fresh machine.

PY=/usr/bin/python3
stamp=.venv/.cityhub-installed
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv (system site packages, for PyGObject)"
  $PY -m venv --system-site-packages .venv
fi
pip_quiet() {  # pip without the mirror-config noise; fails loudly with its log
  if ! .venv/bin/python -m pip "$@" >.venv/pip.log 2>&1; then
    grep -v '^WARNING: Location' .venv/pip.log >&2; echo "setup: pip $* failed" >&2; exit 1
  fi
}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing cityhub and its dependencies into .venv"
  pip_quiet install -q --upgrade pip
  pip_quiet install -q -e ".[dev]"
  touch "$stamp"
fi
.venv/bin/python -c "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0'); from gi.repository import Gst, GstRtspServer; Gst.init(None)" \
  || { echo "setup: GStreamer bindings not importable; install gir1.2-gst-rtsp-server-1.0 python3-gi" >&2; exit 1; }
# Web UI libraries from npm (hub/ui/package-lock.json) into hub/ui/static/vendor/.
./hub/ui/install-vendor.sh
echo "setup: ready"
