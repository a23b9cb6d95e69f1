"""The Flux suite's lab: the Kubernetes suite's five simulated Talos nodes (kube/kube_lab.py) under a prefix and
networks of its own (``lfx-``, 198.18.131.0/24 and 198.18.132.0/24), a stand-in CNI so the nodes turn Ready and
Flux's controllers can be scheduled on the workers, and the lab's file server (``python -m lab.files``) serving the
fixture of Flux's install manifest on a free loopback port.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
KUBE = os.path.join(os.path.dirname(HERE), 'kube')
if KUBE not in sys.path:
    sys.path.insert(0, KUBE)

from kube_lab import CONTROL_PLANES, ROOT, WORKERS, KubeLab, api_client, wait_for  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

CONTROL_PLANES_AND_WORKERS = CONTROL_PLANES + WORKERS

PREFIX = 'lfx-'
REMAP = '203.0.113.0/24=198.18.131.0/24,172.31.1.1/32=198.18.131.254/32,10.10.0.0/24=198.18.132.0/24,10.11.0.0/16=10.113.0.0/16'

# A Cilium agent DaemonSet with nothing else: the lab's kubelet counts a Ready agent pod as the node's CNI
# (docs/lab-kube.md), so the nodes turn Ready without the install Job the talos_cluster role would run.
CNI = {
    'apiVersion': 'apps/v1', 'kind': 'DaemonSet',
    'metadata': {'name': 'cilium', 'namespace': 'kube-system', 'labels': {'k8s-app': 'cilium'}},
    'spec': {'selector': {'matchLabels': {'k8s-app': 'cilium'}},
             'template': {'metadata': {'labels': {'k8s-app': 'cilium'}},
                          'spec': {'hostNetwork': True, 'tolerations': [{'operator': 'Exists'}],
                                   'containers': [{'name': 'cilium-agent', 'image': 'quay.io/cilium/cilium:v1.18.3'}]}}},
}


class FluxLab(KubeLab):
    def _env(self):
        return dict(super()._env(), LAB_NETNS_PREFIX=PREFIX, LAB_TALOS_REMAP=REMAP)

    def start_files(self):
        """Start the lab's file server; returns the env lines ``python -m lab up`` writes for it."""
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        config = os.path.join(self.state_dir, 'files.json')
        with open(config, 'w', encoding='utf-8') as handle:
            json.dump({'host': '127.0.0.1', 'port': port}, handle)
        log = open(os.path.join(self.state_dir, 'files.log'), 'ab')  # pylint: disable=consider-using-with
        self.files = subprocess.Popen([sys.executable, '-m', 'lab.files', config], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/__lab__/health' % port, timeout=2) as response:
                    response.read()
                break
            except OSError:
                if time.monotonic() > deadline or self.files.poll() is not None:
                    raise RuntimeError('the lab file server did not come up on port %d' % port) from None
                time.sleep(0.1)
        from lab import files  # pylint: disable=import-outside-toplevel
        return files.env('127.0.0.1', port)

    def stop_files(self):
        if getattr(self, 'files', None) is not None and self.files.poll() is None:
            self.files.terminate()
            self.files.wait(10)
