#!/bin/sh
# Print the Python to build the venvs with: the Lambda runtime's 3.13 when this machine has it.
# A pyenv shim can exist and still fail ("python3.13: command not found" while the global version is
# another), so every candidate is asked to run before it is chosen.
set -u
works() { "$@" -c 'import sys; print(sys.executable)' 2>/dev/null; }
for candidate in python3.13; do
  works "$candidate" && exit 0
done
if command -v pyenv >/dev/null 2>&1; then
  version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | sort -t. -k3 -n | tail -n 1)
  if [ -n "$version" ]; then
    works "$(pyenv prefix "$version")/bin/python3" && exit 0
  fi
fi
for candidate in python3.12 python3.11 python3; do
  works "$candidate" && exit 0
done
echo "no Python 3.11+ found" >&2
exit 1
