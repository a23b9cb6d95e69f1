"""The lab's Kubernetes: an API-server stand-in per control plane on the real etcd, kubelets on every node,
Talos' manifest application and controller stand-ins (see docs/lab-kube.md and decisions/0005).

``agent`` is what a simulated Talos node runs (lab/talos/node.py starts it); ``apiserver`` is the API
server process; ``registry`` holds the API's operations and ``server`` its HTTP side.
"""
