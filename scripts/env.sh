# Sourced by ./run and ./test: a Python 3.11+ virtualenv in .venv with the pinned requirements.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { echo "python venv failed: install python3-venv" >&2; exit 1; }
fi
install_requirements() {  # $1: requirements file; reinstall only when it changes
  local stamp=".venv/.installed-$(basename "$1")"
  if [ ! -f "$stamp" ] || ! cmp -s "$1" "$stamp"; then
    .venv/bin/pip install -q --disable-pip-version-check -r "$1"
    cp "$1" "$stamp"
  fi
}
export FLASK_APP=app:create_app
