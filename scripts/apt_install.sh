#!/bin/sh
# Installs a Debian package once, with apt, unless its command is already there:
#   sh scripts/apt_install.sh chromium   the console's tests' browser (Playwright's own browser
#                                        download is not reachable from these machines; its Python
#                                        package drives Debian's Chromium)
#   sh scripts/apt_install.sh valgrind   what bench/cold_start.py --instructions counts with
set -eu
package="$1"
if command -v "$package" >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$package" >/dev/null
"$package" --version
