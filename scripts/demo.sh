#!/usr/bin/env bash
# make demo: bring up an empty lab (no machines), then build the cluster from nothing with site.yml: the
# Hetzner servers and Proxmox VMs are created through the stand-ins' APIs, the lab turns them into Talos nodes,
# and the Talos stages configure them. Run it again: the lab is reused and site.yml reports changed=0.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m lab up --empty
set -a
# shellcheck disable=SC1091
. .lab/env
set +a
echo
echo "== site.yml (provision, then converge)"
ansible-playbook -i .lab/hybrid.yml playbooks/site.yml -e @examples/lab-vars.yml -e @examples/lab-machines.yml "$@"
echo
echo "== inventory (hybridops.talos.hybrid over the Hetzner and Proxmox stand-ins)"
ansible-inventory -i .lab/hybrid.yml --graph
