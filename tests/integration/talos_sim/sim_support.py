"""Constants and helpers the simulator tests share (a module of its own: ``conftest`` names clash across folders)."""
import os
import socket
import time

from talos_lab import insecure

REBOOT_SECONDS = 2.0
V113_NODE = 'home-w-1'
# A v1.9.6 worker that no test configures: maintenance-mode checks need one for the whole session.
SPARE = 'lab-pve-001'


class Sim:
    def __init__(self, state_dir, record):
        self.state_dir = state_dir
        self.record = record
        self.nodes = {node['name']: node for node in record['nodes']}

    def address(self, name):
        return self.nodes[name]['address']

    def node_dir(self, name):
        return os.path.join(self.state_dir, 'talos', name)


def wait_for(check, timeout, step=0.2, what='condition'):
    """Call ``check`` until it returns a true value (exceptions count as false); return that value."""
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
    raise AssertionError('%s not reached within %s s (last error: %s)' % (what, timeout, last))


def listening(address, port=50000):
    try:
        with socket.create_connection((address, port), timeout=0.3):
            return True
    except OSError:
        return False


def configure(sim, cluster, name, role, **changes):
    """Apply a config to a node in maintenance mode and wait until it serves mTLS; return an admin client."""
    address = sim.address(name)
    admin = cluster.client(address)
    try:
        if admin.machine_stage() == 'running':
            return admin
    except Exception:  # pylint: disable=broad-except
        pass
    insecure(address).apply_configuration(cluster.config(role, **changes), mode='auto')
    wait_for(lambda: admin.machine_stage() == 'running', 15, what='%s serving mTLS' % name)
    return admin
