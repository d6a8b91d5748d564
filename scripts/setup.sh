#!/usr/bin/env bash
# Installs whatever the build, the tests and the figures need (Debian 12 packages) and nothing else.
# Idempotent: packages already present are not touched; apt is only called when one is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config git
      libxtensor-dev libxtensor-blas-dev libxsimd-dev xtl-dev
      libboost-test-dev nlohmann-json3-dev libbenchmark-dev
      libopenblas-dev liblapack-dev libspectra-dev libeigen3-dev
      librandom123-dev libcli11-dev
      python3-matplotlib python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
