#!/usr/bin/env bash
# Build the collection artifact and prove that nothing but collection content is in it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/.cache/build
rm -rf "$out"; mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
artifact=$(ls "$out"/hybridops-talos-*.tar.gz)
bad=$(tar -tzf "$artifact" | grep -E '^(lab|tests|benchmarks|scripts|\.lab|\.venv|\.cache|\.ci)(/|$)' || true)
if [ -n "$bad" ]; then
  echo "build: the artifact holds files that are not collection content:"; echo "$bad" | head -20
  exit 1
fi
echo "build: $(basename "$artifact") ($(tar -tzf "$artifact" | wc -l) entries, no lab/tests/benchmarks)"
