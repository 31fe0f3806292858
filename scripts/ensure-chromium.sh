#!/usr/bin/env bash
# Makes sure a Chromium for the dashboard's browser tests is on the machine: the one OMNISTITCH_CHROMIUM names, or
# Debian's `chromium` package, installed with apt-get when missing (as root, or through passwordless sudo).
# playwright-core drives it; Playwright's own browser download does not work on an offline machine.
set -euo pipefail

if [[ -n "${OMNISTITCH_CHROMIUM:-}" ]]; then
  [[ -x "$OMNISTITCH_CHROMIUM" ]] && exit 0
  echo "OMNISTITCH_CHROMIUM=$OMNISTITCH_CHROMIUM is not an executable file" >&2
  exit 1
fi
command -v chromium >/dev/null 2>&1 && exit 0

if [[ "$(id -u)" -eq 0 ]]; then
  run=()
elif sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "Chromium is needed for the dashboard's browser tests: install Debian's chromium package" \
    "(apt-get install chromium) or set OMNISTITCH_CHROMIUM to a Chromium binary." >&2
  exit 1
fi
echo "installing Debian's chromium package for the browser tests (once)..." >&2
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq >/dev/null
"${run[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
