#!/usr/bin/env bash
# Run every Molecule scenario under extensions/molecule/ (default driver, localhost, no Docker), in one lab:
# extensions/molecule/config.yml shares the default scenario's create (`python -m lab up --empty` and the backup
# remote) and destroy among them. bin/ first on PATH gives every playbook the lab's endpoints (.lab/env).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/extensions/molecule/bin:$PATH"
exec molecule test --all "$@"
