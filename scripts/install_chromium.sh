#!/bin/sh
# The browser of the console's tests: Debian's Chromium (Playwright's own browser download is not
# reachable from these machines; its Python package drives this one). Installed once, with apt.
set -eu
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
chromium --version
