#!/usr/bin/env bash
# Copy the collection's files (tracked and new, not ignored) to DEST/ansible_collections/hybridops/talos
# inside a git repository of its own: ansible-test needs exactly that layout.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:?usage: collection_copy.sh DEST}
TARGET=$DEST/ansible_collections/hybridops/talos
rm -rf "$TARGET"
mkdir -p "$TARGET"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$TARGET"
cd "$TARGET"
git init -q
git add -A
echo "$TARGET"
