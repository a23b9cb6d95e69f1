#!/usr/bin/env bash
# Every plugin must render with ansible-doc, with no warning.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for type_dir in modules:module inventory:inventory lookup:lookup filter:filter callback:callback; do
  dir=plugins/${type_dir%%:*}; type=${type_dir##*:}
  for f in "$dir"/*.py; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .py)
    [ "$name" = __init__ ] && continue
    out=$(ansible-doc -t "$type" "hybridops.talos.$name" 2>&1 >/dev/null) || { echo "ansible-doc failed for $type $name: $out"; status=1; continue; }
    if [ -n "$out" ]; then echo "ansible-doc warned for $type $name: $out"; status=1; fi
  done
done
for role in roles/*/; do
  name=$(basename "$role")
  out=$(ansible-doc -t role "hybridops.talos.$name" 2>&1 >/dev/null) || { echo "ansible-doc failed for role $name: $out"; status=1; continue; }
  if [ -n "$out" ]; then echo "ansible-doc warned for role $name: $out"; status=1; fi
done
[ $status = 0 ] && echo "docs-check: every plugin and role renders with ansible-doc"
exit $status
