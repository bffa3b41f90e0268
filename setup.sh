#!/usr/bin/env bash
# Installs everything a snapshot release and the test suite need, on a fresh
# Debian machine with Python 3.11: Debian packages (.ci/apt-packages.txt), a
# virtual environment in .venv with this project and the sample product, and
# the npm packages the tests use (package.json). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

mapfile -t wanted < <(grep -vE '^\s*(#|$)' .ci/apt-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  # PACKAGE:ARCH of another architecture: dpkg must know that architecture before apt-get update
  for pkg in "${missing[@]}"; do
    arch="${pkg#*:}"
    if [ "$arch" != "$pkg" ] && [ "$arch" != "$(dpkg --print-architecture)" ] \
      && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      $SUDO dpkg --add-architecture "$arch"
    fi
  done
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]' -e ./product

if [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ package-lock.json -nt node_modules ]; then
    echo "setup: installing npm packages"
    if [ -f package-lock.json ]; then npm ci --silent --no-audit --no-fund; else npm install --silent --no-audit --no-fund; fi
    touch node_modules
  fi
fi
echo "setup: ready (.venv/bin/invoke --list shows the tasks)"
