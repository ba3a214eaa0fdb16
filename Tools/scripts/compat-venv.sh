#!/usr/bin/env bash
# Creates .build/venv with the Python packages of the Redis compatibility suite
# (Tests/compat/requirements.txt), only when it is missing or out of date. Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.build/venv
requirements=Tests/compat/requirements.txt
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  echo "$venv/bin/python"
  exit 0
fi
python=$(command -v python3 || true)
if [ -z "$python" ] || ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  Tools/scripts/install-deps.sh python3 python3-venv >&2
  python=/usr/bin/python3
fi
echo "Creating $venv for the Redis compatibility suite" >&2
rm -rf "$venv"
mkdir -p .build
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
cp "$requirements" "$stamp"
echo "$venv/bin/python"
