#!/usr/bin/env bash
# Run every Molecule scenario under extensions/molecule/ (default driver, localhost, no Docker).
set -euo pipefail
cd "$(dirname "$0")/../extensions"
status=0
for scenario in molecule/*/molecule.yml; do
  name=$(basename "$(dirname "$scenario")")
  echo "molecule: scenario $name"
  molecule test -s "$name" || status=1
done
exit $status
