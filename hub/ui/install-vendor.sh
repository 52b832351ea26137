#!/usr/bin/env bash
# Installs the UI's browser libraries (package-lock.json) and copies their dist
# files into static/vendor/ (gitignored), served by the hub: no CDN at run time.
# Idempotent: does nothing when the vendor copy is newer than the lock.
set -euo pipefail
cd "$(dirname "$0")"
stamp=static/vendor/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ "$stamp" -nt "$0" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "ui: npm missing: installing Debian's npm" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
echo "setup: installing UI libraries (npm ci in hub/ui)"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
rm -rf static/vendor
mkdir -p static/vendor/leaflet static/vendor/uplot static/vendor/markercluster
cp node_modules/leaflet/dist/leaflet-src.esm.js node_modules/leaflet/dist/leaflet.css static/vendor/leaflet/
cp -r node_modules/leaflet/dist/images static/vendor/leaflet/
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css static/vendor/uplot/
cp node_modules/leaflet/LICENSE static/vendor/leaflet/LICENSE
cp node_modules/uplot/LICENSE static/vendor/uplot/LICENSE
cp node_modules/leaflet.markercluster/dist/leaflet.markercluster-src.js \
   node_modules/leaflet.markercluster/dist/MarkerCluster.css \
   node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css \
   node_modules/leaflet.markercluster/MIT-LICENCE.txt static/vendor/markercluster/
touch "$stamp"
