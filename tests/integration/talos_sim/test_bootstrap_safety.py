"""talos_bootstrap against simulated nodes bootstraps only on positive evidence that etcd runs nowhere.

Runs before test_etcd.py (file order), while vps-0 is configured and its etcd waits for the bootstrap.
vps-1 is configured too, so its etcd waits for a join; home-cp-0 is still in maintenance mode.
Reached through a TCP relay on 127.0.0.1 - a proxy in the way - vps-1 presents its real certificate,
issued by the cluster's OS CA, which is invalid for the address the controller used: the check
fails with a hostname mismatch, which proves nothing about etcd, so the bootstrap is refused with
that reason. Without the relay the same module finds the evidence and would bootstrap.
"""
import base64
import os
import sys

import pytest
import yaml

from sim_support import configure

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit', 'plugins', 'module_utils', 'talos'))

from api.relay import Relay  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.lab


@pytest.fixture
def admin_talosconfig(cluster, tmp_path):
    crt, key = cluster.os_ca.client(('os:admin',))
    context = {'endpoints': [], 'ca': base64.b64encode(cluster.os_ca.crt_pem).decode(), 'crt': base64.b64encode(crt).decode(),
               'key': base64.b64encode(key).decode()}
    path = tmp_path / 'talosconfig'
    path.write_text(yaml.safe_dump({'context': 'sim', 'contexts': {'sim': context}}))
    os.chmod(path, 0o600)
    return str(path)


def bootstrap_task(node, control_planes, talosconfig):
    return [{'name': 'bootstrap', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [{
        'name': 'bootstrap', 'ignore_errors': True, 'hybridops.talos.talos_bootstrap': {
            'node': node, 'control_planes': control_planes, 'talosconfig': talosconfig, 'wait': False}}]}]


def etcd_state(client):
    return next(s.state for s in client.service_list() if s.id == 'etcd')


def test_a_control_plane_whose_certificate_is_invalid_for_its_address_stops_the_bootstrap(
        sim, cluster, cp0, run_playbook, admin_talosconfig):
    assert etcd_state(cp0) == 'Preparing'
    configure(sim, cluster, 'vps-1', 'controlplane')
    relay = Relay((sim.address('vps-1'), 50000))
    try:
        planes = [sim.address('vps-0'), '127.0.0.1:%d' % relay.port, sim.address('home-cp-0')]
        run = run_playbook(bootstrap_task(sim.address('vps-0'), planes, admin_talosconfig))
    finally:
        relay.close()
    result = run.result('bootstrap')
    assert result['failed'] is True and relay.connections > 0, result
    assert result['failure']['reason'] == 'bootstrap_refused' and result['failure']['call'] == 'Bootstrap'
    assert result['failure']['cause']['reason'] == 'hostname_mismatch', result['failure']
    assert result['msg'].startswith('Refusing to bootstrap etcd on %s: control plane 127.0.0.1:%d could not show whether '
                                    'it runs etcd (certificate verify failed' % (sim.address('vps-0'), relay.port)), result['msg']
    assert 'the node certificate does not name 127.0.0.1' in result['msg']
    assert etcd_state(cp0) == 'Preparing', 'etcd was bootstrapped'


def test_with_evidence_from_every_control_plane_the_bootstrap_would_go_ahead(sim, cluster, cp0, run_playbook, admin_talosconfig):
    planes = [sim.address(name) for name in ('vps-0', 'vps-1', 'home-cp-0')]
    run = run_playbook(bootstrap_task(sim.address('vps-0'), planes, admin_talosconfig), '--check')
    result = run.result('bootstrap')
    assert result.get('failed') is not True, result
    assert result['changed'] is True and result['bootstrapped_by'] == 'this run' and result['etcd_state'] == 'Preparing'
    assert etcd_state(cp0) == 'Preparing', 'check mode bootstrapped etcd'
