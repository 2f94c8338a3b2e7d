#!/usr/bin/env bash
# Create or refresh the project virtualenv (.venv) so `periph` and the tests can run.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PERIPH_VENV:-$root/.venv}"
extras="${1:-dev}"
stamp="$venv/.periph-installed-$extras"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "periph: creating virtualenv in $venv" >&2
  "$python" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  echo "periph: installing periph[$extras] into $venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --config-settings editable_mode=compat -e "$root[$extras]" >&2
  touch "$stamp"
fi
