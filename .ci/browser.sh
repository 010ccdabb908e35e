#!/usr/bin/env bash
# What the console's browser tests (tests/browser/) need, so that they run in CI and never skip:
# Debian's chromium and a CJK font (the screenshots show Chinese), installed with apt-get (as root,
# or through sudo), and Playwright's Python client, which the [dev] extra brings (installed here too
# when the venv exists already). Playwright drives the system browser: no `playwright install`,
# nothing downloaded from outside the package mirrors.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=(); elif command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
        echo "browser.sh: need root or sudo to install: ${need[*]}" >&2; exit 1; fi
    { "${SUDO[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${need[@]}"; } >&2
fi
if [ -x .venv/bin/pip ]; then
    .venv/bin/pip install -q "playwright>=1.40" >&2
fi
dpkg-query -W chromium >&2 2>/dev/null || command -v chromium >&2
