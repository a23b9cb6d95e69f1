"""Helpers of the KubeSpan lab tests (a module of its own: ``conftest`` names clash across folders)."""
import base64
import json
import os
import statistics
import subprocess
import sys

import yaml

from sim_support import Sim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PREFIX = 'lks-'
REMAP = '203.0.113.0/24=198.18.21.0/24,172.31.1.1/32=198.18.21.254/32,10.10.0.0/24=198.18.22.0/24,10.11.0.0/16=10.141.0.0/16'
ROLES = {'vps-0': 'controlplane', 'vps-1': 'controlplane', 'home-cp-0': 'controlplane', 'home-w-0': 'worker', 'home-w-1': 'worker'}


def lab_env(state_dir):
    return dict(os.environ, LAB_STATE_DIR=state_dir, LAB_NETNS_PREFIX=PREFIX, LAB_TALOS_REMAP=REMAP,
                LAB_TALOS_KUBESPAN_REFRESH='1', LAB_TALOS_KUBESPAN_KEEPALIVE='1', LAB_TALOS_REBOOT_SECONDS='1')


def lab(state_dir, *args, module='lab.talos'):
    """``python -m lab.talos ARGS`` (or ``python -m lab`` with module='lab') for the KubeSpan lab."""
    proc = subprocess.run([sys.executable, '-m', module] + list(args), cwd=ROOT, env=lab_env(state_dir),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, '%s failed: %s %s' % (' '.join(args), proc.stdout, proc.stderr)
    return proc


class Mesh(Sim):
    """The running lab, its cluster and a reader talosconfig for kubespan_verify."""

    def __init__(self, state_dir, record, cluster):
        super().__init__(state_dir, record)
        self.cluster = cluster
        crt, key = cluster.os_ca.client(('os:reader',))
        text = yaml.safe_dump({'context': 'lks', 'contexts': {'lks': {
            'endpoints': [self.address('vps-0')], 'nodes': [], 'ca': base64.b64encode(cluster.os_ca.crt_pem).decode(),
            'crt': base64.b64encode(crt).decode(), 'key': base64.b64encode(key).decode()}}})
        self.talosconfig = os.path.join(state_dir, 'reader.talosconfig')
        fd = os.open(self.talosconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)

    def node_list(self):
        return [{'name': n['name'], 'address': n['address']} for n in self.record['nodes']]

    def site(self, name):
        return self.nodes[name]['site']

    def lab(self, *args, module='lab'):
        return lab(self.state_dir, *args, module=module)


# A UDP echo over the KubeSpan addresses: the server answers for a few seconds, the client prints its
# round-trip times in milliseconds. Each runs with `ip netns exec` in a node's namespace.
ECHO_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7777)); s.settimeout(float(sys.argv[2]))
print('ready', flush=True)
try:
    while True:
        data, peer = s.recvfrom(64); s.sendto(data, peer)
except OSError:
    pass
"""
ECHO_CLIENT = """
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(5)
for _ in range(int(sys.argv[2])):
    started = time.monotonic(); s.sendto(b'x', (sys.argv[1], 7777)); s.recvfrom(64)
    print((time.monotonic() - started) * 1000, flush=True); time.sleep(0.1)
"""


def kubespan_address(netns):
    """The node's address on its KubeSpan interface (in the cluster's ULA)."""
    out = subprocess.run(['ip', '-n', netns, '-j', 'address', 'show', 'kubespan'], capture_output=True, text=True, check=True).stdout
    return next(a['local'] for a in json.loads(out)[0]['addr_info'] if a['local'].startswith('fd'))


def kubespan_rtt_ms(mesh, source, target, count=5):
    """Median round trip in ms of a UDP echo from ``source`` to ``target`` through their KubeSpan tunnel."""
    address = kubespan_address(mesh.nodes[target]['netns'])
    server = subprocess.Popen(['ip', 'netns', 'exec', mesh.nodes[target]['netns'], sys.executable, '-c', ECHO_SERVER, address, '10'],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == 'ready'
        client = subprocess.run(['ip', 'netns', 'exec', mesh.nodes[source]['netns'], sys.executable, '-c', ECHO_CLIENT, address, str(count)],
                                capture_output=True, text=True, timeout=60, check=True)
    finally:
        server.kill()
        server.wait()
    return statistics.median(float(line) for line in client.stdout.split())
