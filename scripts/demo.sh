#!/usr/bin/env bash
# make demo: bring the local lab up, show the merged inventory, converge the cluster with site.yml, then show
# the nodes (Ready, roles, sites) and Cilium rolled out with kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m lab up
echo
echo "== inventory (hybridops.talos.hybrid over the Hetzner and Proxmox stand-ins)"
ansible-inventory -i .lab/hybrid.yml --graph
echo
echo "== site.yml"
ansible-playbook -i .lab/hybrid.yml playbooks/site.yml -e @examples/lab-vars.yml "$@"
echo
echo "== the cluster, with real kubectl and the lab's kubeconfig (KUBECONFIG in .lab/env)"
KUBECONFIG="$(sed -n 's/^KUBECONFIG=//p' .lab/env)"
export KUBECONFIG
kubectl get nodes -o wide -L hybridops.io/site
kubectl -n kube-system rollout status ds/cilium --timeout=120s
kubectl -n kube-system get ds,deploy -l app.kubernetes.io/part-of=cilium
