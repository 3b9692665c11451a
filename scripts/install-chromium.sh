#!/usr/bin/env bash
# Install headless Chromium for the HTML report test (tests/hotpipe/profile/test_html.py).
#
# Idempotent: does nothing when /usr/bin/chromium exists. Installs Debian's `chromium` package
# with apt-get when we are root; otherwise says what to run. Exits 0 when chromium is available
# (or when HOTPIPE_SKIP_BROWSER=1, which also makes the tests skip the browser checks).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ "${HOTPIPE_SKIP_BROWSER:-}" = "1" ] && [ ! -x "$CHROMIUM" ]; then
    echo "install-chromium: HOTPIPE_SKIP_BROWSER=1 and $CHROMIUM is missing: not installing"
    exit 0
fi

if [ -x "$CHROMIUM" ]; then
    echo "install-chromium: $CHROMIUM already installed ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium: $CHROMIUM is missing and we are not root." >&2
    echo "  Fix: sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium" >&2
    echo "  (or set HOTPIPE_SKIP_BROWSER=1 to skip the browser checks of the HTML report)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: $CHROMIUM is missing and apt-get is not available on this system." >&2
    echo "  Fix: install Chromium with your package manager so that $CHROMIUM exists" >&2
    echo "  (or set HOTPIPE_SKIP_BROWSER=1 to skip the browser checks of the HTML report)" >&2
    exit 1
fi

echo "install-chromium: $CHROMIUM is missing; running apt-get update"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
echo "install-chromium: running apt-get install -y --no-install-recommends chromium"
apt-get install -y -q --no-install-recommends chromium

if [ -x "$CHROMIUM" ]; then
    echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi
echo "install-chromium: apt-get finished but $CHROMIUM is still missing." >&2
exit 1
