"""Fixtures for the Talos node simulator tests: one lab of their own for the session, and a cluster
brought forward step by step (configured, bootstrapped, joined) by the tests that need it."""
import json
import os
import shutil
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from talos_lab import Cluster, talos_command  # noqa: E402  pylint: disable=wrong-import-position
from sim_support import REBOOT_SECONDS, V113_NODE, Sim, configure, wait_for  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


@pytest.fixture(scope='session')
def sim():
    if os.geteuid() != 0:
        pytest.skip('the Talos node simulator needs root (network namespaces)')
    state_dir = tempfile.mkdtemp(prefix='talos-sim-')
    os.chmod(state_dir, 0o700)
    started = time.monotonic()
    proc = talos_command(state_dir, 'up', '--talos-reboot-seconds', str(REBOOT_SECONDS), '--talos-nodes', '1',
                         '--talos-node-version', '%s=v1.13.9' % V113_NODE)
    if proc.returncode != 0:
        talos_command(state_dir, 'down')
        shutil.rmtree(state_dir, ignore_errors=True)
        pytest.fail('python -m lab.talos up failed: %s' % (proc.stderr or proc.stdout))
    with open(os.path.join(state_dir, 'talos-nodes.json'), encoding='utf-8') as handle:
        lab = Sim(state_dir, json.load(handle))
    lab.up_seconds = time.monotonic() - started
    yield lab
    down = talos_command(state_dir, 'down')
    if not os.environ.get('TALOS_SIM_KEEP'):  # keep the node logs for a look after a failure
        shutil.rmtree(state_dir, ignore_errors=True)
    assert down.returncode == 0, down.stderr


@pytest.fixture(scope='session')
def cluster(sim):
    return Cluster(endpoint='https://%s:6443' % sim.address('vps-0'))


@pytest.fixture(scope='session')
def cp0(sim, cluster):
    """vps-0 configured as a control plane (not bootstrapped)."""
    return configure(sim, cluster, 'vps-0', 'controlplane')


@pytest.fixture(scope='session')
def bootstrapped(cp0):
    if not any(s.id == 'etcd' and s.state == 'Running' for s in cp0.service_list()):
        cp0.bootstrap()
    return cp0


@pytest.fixture(scope='session')
def joined(sim, cluster, bootstrapped):
    """All three control planes configured; etcd has three named members."""
    for name in ('vps-1', 'home-cp-0'):
        configure(sim, cluster, name, 'controlplane')

    def three():
        members = bootstrapped.etcd_member_list().members
        return len(members) == 3 and all(m.hostname and m.client_urls for m in members)
    wait_for(three, 45, step=0.5, what='three etcd members')

    # A member is listed as soon as it joins; its etcd service says Running a moment later.
    def all_running():
        return all(any(s.id == 'etcd' and s.state == 'Running' for s in cluster.client(sim.address(name)).service_list())
                   for name in ('vps-0', 'vps-1', 'home-cp-0'))
    wait_for(all_running, 45, step=0.5, what='etcd running on the three control planes')
    return bootstrapped
