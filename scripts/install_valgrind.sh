#!/bin/sh
# What bench/cold_start.py --instructions counts with: Debian's valgrind. Installed once, with apt.
set -eu
if command -v valgrind >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null
valgrind --version
