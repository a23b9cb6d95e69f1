"""An empty lab of its own (no machine at all) whose Talos nodes follow the Hetzner and Proxmox APIs, shared by
the tests of this folder, and the cluster one site.yml run builds in it (see provision_lab.py)."""
import os
import socket

import pytest

from lab_fixtures import lab_command, stop_with_directory
from lab import state
from provision_lab import PREFIX, SITE, VPS_GW, VPS_POOL, EmptyLab, integration, run


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='package')
def empty_lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip('the lab needs root')
    state_dir = str(tmp_path_factory.mktemp('empty-lab'))
    env = dict(os.environ, LAB_STATE_DIR=state_dir, LAB_HCLOUD_PORT=str(_free_port()), LAB_PVE_PORT=str(_free_port()),
               LAB_NETNS_PREFIX=PREFIX, LAB_TALOS_REMAP='172.31.1.1/32=%s/32' % VPS_GW,
               LAB_HCLOUD_IPV4_POOL=VPS_POOL, LAB_TALOS_REBOOT_SECONDS='1', LAB_TALOS_KUBESPAN_REFRESH='5')
    proc = lab_command('up', '--empty', env=env, timeout=180)
    if proc.returncode != 0:
        lab_command('down', env=env)
        pytest.fail('python -m lab up --empty failed: %s' % (proc.stderr or proc.stdout))
    stop = stop_with_directory(__file__, lambda: lab_command('down', env=env))
    try:
        yield EmptyLab(state_dir, dict(state.read_env(os.path.join(state_dir, 'env'))), env)
    finally:
        stop()


@pytest.fixture(scope='package')
def secrets_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('provision') / 'secrets')


@pytest.fixture(scope='package')
def built_cluster(empty_lab, secrets_dir, tmp_path_factory):  # pylint: disable=redefined-outer-name
    """(result, secrets folder) of one site.yml run from the empty stand-ins: the cluster every later test uses."""
    runner = integration.make_runner(tmp_path_factory.mktemp('build'))
    return run(runner, SITE, empty_lab, secrets_dir), secrets_dir
