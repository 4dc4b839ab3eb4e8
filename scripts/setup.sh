#!/usr/bin/env bash
# Idempotent setup of semcom-ota on a fresh Debian 12 machine (run as root, or with sudo available).
#   1. Debian packages: GNU Radio 3.10, SoapySDR, g++, the offline data sets (DESIGN §6)
#   2. .venv made with the system Python (so GNU Radio's and SoapySDR's bindings are visible)
#   3. the project, editable, with its dev extras, under constraints.txt (numpy<2, torch==2.13.0)
#   4. the loopback SoapySDR driver (sdr/loopback_driver), if its sources are present
# Each step says what it does; a failure names the step and the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
STEP="start"

fail() {
  echo "setup.sh: FAILED at step '$STEP'." >&2
  echo "  fix: $1" >&2
  exit 1
}
trap 'fail "read the output above; rerun scripts/setup.sh once the cause is fixed"' ERR
say() { printf '\n==> %s\n' "$*"; }

APT_PACKAGES=(
  gnuradio python3-soapysdr soapysdr-tools libsoapysdr-dev g++ make python3-venv
  sword-text-web diatheke bible-kjv-text bible-kjv fortunes
  dataset-fashion-mnist plasma-workspace-wallpapers tuxpaint-stamps-default
  chromium
)

STEP="debian packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "run as root, or install: apt-get install --no-install-recommends ${missing[*]}"
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || fail "apt-get update failed: check that the Debian mirror is reachable"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || fail "apt-get install failed for: ${missing[*]}"
else
  say "Debian packages: all present"
fi

STEP="virtual environment"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with /usr/bin/python3 (--system-site-packages, for GNU Radio and SoapySDR)"
  /usr/bin/python3 -m venv --system-site-packages "$VENV" \
    || fail "install python3-venv (apt-get install python3-venv) and rerun"
else
  say "virtual environment: $VENV exists"
fi

STEP="python packages"
say "installing semcom-ota (editable) with dev extras under constraints.txt"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]" \
  || fail "pip install failed; check that PyPI is reachable and constraints.txt pins numpy<2 and torch==2.13.0"

STEP="numpy check"
"$VENV/bin/python" - <<'PY' || fail "NumPy 2 got into .venv: run .venv/bin/pip install -c constraints.txt 'numpy<2'"
import numpy, sys
sys.exit(0 if int(numpy.__version__.split(".")[0]) < 2 else 1)
PY

STEP="loopback SoapySDR driver"
if [ -f sdr/loopback_driver/build.sh ]; then
  say "building the loopback SoapySDR driver"
  bash sdr/loopback_driver/build.sh || fail "g++ or libsoapysdr-dev missing: apt-get install g++ libsoapysdr-dev"
fi

touch "$VENV/.setup-stamp"
say "setup done. Try: .venv/bin/semcom doctor"
