#!/usr/bin/env bash
# make demo: bring the local lab up, show the merged inventory, converge the cluster with site.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m lab up
echo
echo "== inventory (hybridops.talos.hybrid over the Hetzner and Proxmox stand-ins)"
ansible-inventory -i .lab/hybrid.yml --graph
echo
echo "== site.yml"
ansible-playbook -i .lab/hybrid.yml playbooks/site.yml -e @examples/lab-vars.yml "$@"
