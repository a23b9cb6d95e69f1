"""A lab of its own for the provisioning-role tests.

The roles create servers and VMs that carry Talos labels and tags; in the shared lab they would show
up in the inventory tests. Each test module here gets a private lab on free ports instead.
"""
import os
import socket

import pytest

from lab_fixtures import lab_command
from lab import state
from lab.control import HcloudControl


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def private_lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip('the lab needs root')
    state_dir = str(tmp_path_factory.mktemp('lab'))
    # No Talos nodes: they would need network namespaces beside the main lab's, and these tests do not use them.
    env = dict(os.environ, LAB_STATE_DIR=state_dir, LAB_HCLOUD_PORT=str(_free_port()), LAB_PVE_PORT=str(_free_port()),
               LAB_TALOS='0')
    proc = lab_command('up', env=env)
    if proc.returncode != 0:
        pytest.fail('python -m lab up failed: %s' % (proc.stderr or proc.stdout))
    try:
        yield dict(state.read_env(os.path.join(state_dir, 'env')))
    finally:
        lab_command('down', env=env)


@pytest.fixture(scope='module')
def private_control(private_lab):  # pylint: disable=redefined-outer-name
    return HcloudControl(private_lab['LAB_HCLOUD_CONTROL'])
