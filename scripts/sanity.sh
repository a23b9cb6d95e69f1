#!/usr/bin/env bash
# ansible-test sanity, offline-capable (see scripts/get_pip_standin.py), no ignore files.
set -euo pipefail
cd "$(dirname "$0")/.."
if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then
  echo "sanity: tests/sanity/ignore-*.txt exists; fix the findings instead" >&2
  exit 1
fi
target=$(bash scripts/collection_copy.sh "$PWD/.cache/sanity")
cd "$target"
PY=$(../../../../../.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exec ../../../../../.venv/bin/ansible-test sanity --venv --python "$PY" --color no "$@"
