#!/usr/bin/env bash
# make demo: bring up an empty lab (no machines), then build the cluster from nothing with site.yml: the
# Hetzner servers and Proxmox VMs are created through the stand-ins' APIs, the lab turns them into Talos nodes,
# and the Talos stages configure them; then show the nodes (Ready, roles, sites) and Cilium rolled out with
# kubectl, Flux's controllers (installed from the lab's checksummed fixture of Flux's install.yaml) available, and
# the CSI drivers with their StorageClasses and the table of where each class can put volumes and pods.
# Run it again: the lab is reused and site.yml reports changed=0.
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
echo
echo "== the cluster, with real kubectl and the lab's kubeconfig (KUBECONFIG in .lab/env)"
KUBECONFIG="$(sed -n 's/^KUBECONFIG=//p' .lab/env)"
export KUBECONFIG
kubectl get nodes -o wide -L hybridops.io/site
kubectl -n kube-system rollout status ds/cilium --timeout=120s
kubectl -n kube-system get ds,deploy -l app.kubernetes.io/part-of=cilium
echo
echo "== Flux (pinned ${LAB_FLUX_VERSION}, install.yaml checked against sha256 ${LAB_FLUX_INSTALL_SHA256})"
kubectl -n flux-system get deploy
echo
echo "== Cilium handed to Flux (a HelmRelease adopting the release cilium install made)"
kubectl -n kube-system get helmrelease cilium
echo
echo "== Storage: the CSI drivers, their StorageClasses, and where each class can go"
kubectl get csidrivers
kubectl get storageclass
ansible-playbook -i .lab/hybrid.yml playbooks/storage-placement.yml -e @examples/lab-vars.yml
