#!/usr/bin/env bash
# Build the loopback SoapySDR driver into sdr/loopback_driver/build/libloopbackSupport.so.
# Idempotent: does nothing when the library is newer than its source and this script.
# Use it with: SOAPY_SDR_PLUGIN_PATH=$PWD/sdr/loopback_driver/build SoapySDRUtil --probe=driver=loopback
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$HERE/build"
LIB="$OUT/libloopbackSupport.so"
SRC="$HERE/LoopbackDevice.cpp"
if [ -f "$LIB" ] && [ "$LIB" -nt "$SRC" ] && [ "$LIB" -nt "$0" ]; then
  echo "loopback driver: up to date ($LIB)"
  exit 0
fi
command -v g++ >/dev/null || { echo "loopback driver: g++ not found (apt-get install g++)" >&2; exit 1; }
[ -f /usr/include/SoapySDR/Device.hpp ] || { echo "loopback driver: SoapySDR headers missing (apt-get install libsoapysdr-dev)" >&2; exit 1; }
mkdir -p "$OUT"
TMP="$(mktemp "$OUT/.libloopbackSupport.XXXXXX.so")"
g++ -std=c++17 -O2 -fPIC -shared -Wall -Wextra -o "$TMP" "$SRC" -lSoapySDR -pthread
mv -f "$TMP" "$LIB"
echo "loopback driver: built $LIB"
