# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubespan_verify through real ansible-playbook runs against a mesh of real gRPC/TLS COSI servers.

The servers (``cosi_mesh``) serve peer statuses chosen per direction, for the states and ages the lab's
real WireGuard cannot be made to show on demand (a handshake 400 s old, a peer down for 900 s); the
module, the Talos client, TLS with Ed25519 certificates and the protobuf decoding are all real. The same
checks on the lab's real mesh are in tests/integration/talos_kubespan.
"""

from __future__ import annotations

import os
import socket
import sys
from xml.etree import ElementTree

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit', 'plugins', 'module_utils', 'talos'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from api import certs, fake_node  # noqa: E402  pylint: disable=wrong-import-position
import cosi_mesh  # noqa: E402  pylint: disable=wrong-import-position

NAMES = ['vps-cp-1', 'vps-cp-2', 'home-cp-1', 'home-w-1', 'home-w-2']
ADDRESSES = {name: '127.0.0.%d' % (31 + index) for index, name in enumerate(NAMES)}
SVG = '{http://www.w3.org/2000/svg}'


@pytest.fixture(scope='module')
def pki():
    os_ca = certs.make_ca('talos')
    return dict(
        os_ca=os_ca,
        servers={name: certs.issue(os_ca, common_name=name, server_ips=[address]) for name, address in ADDRESSES.items()},
        reader=certs.issue(os_ca, roles=['os:reader']),
        nobody=certs.issue(os_ca, roles=[]),
    )


@pytest.fixture
def talosconfig(pki, tmp_path):
    def write(client='reader'):
        path = tmp_path / ('%s.talosconfig' % client)
        path.write_text(certs.talosconfig_text(pki['os_ca'], pki[client]))
        path.chmod(0o600)
        return str(path)
    return write


def start_mesh(pki, views=None, running=tuple(NAMES)):
    """Servers for the ``running`` nodes; ``views[(a, b)]`` overrides what a says about b."""
    views = views or {}
    nodes = {}
    for name in running:
        peer_views = {}
        for other in NAMES:
            if other != name:
                peer_views[other] = dict(cosi_mesh.healthy_view(), **views.get((name, other), {}))
        context = fake_node.server_context(pki['servers'][name], client_ca=pki['os_ca'])
        nodes[name] = (ADDRESSES[name], context, peer_views)
    return cosi_mesh.Mesh(ADDRESSES, nodes)


def closed_endpoint(address):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return '%s:%d' % (address, sock.getsockname()[1])


def verify_task(name='verify', **args):
    """A kubespan_verify task that judges the first check unless the test asks it to wait."""
    return {'name': name, 'hybridops.talos.kubespan_verify': dict(dict(wait=False), **args)}


def play(*tasks, check=False):
    entry = {'name': 'mesh', 'hosts': 'localhost', 'gather_facts': False, 'tasks': list(tasks)}
    if check:
        entry['check_mode'] = True
    return [entry]


def test_a_healthy_mesh_is_all_up_with_growing_traffic_and_a_stable_picture(pki, talosconfig, run_playbook, tmp_path):
    picture = str(tmp_path / 'mesh.svg')
    with start_mesh(pki) as mesh:
        nodes = [{'name': name, 'address': mesh.endpoint(name)} for name in NAMES]
        args = dict(nodes=nodes, talosconfig=talosconfig(), samples=2, sample_interval=1, underlay_mtu=1450,
                    expected_kubespan_mtu=1370, cilium_mtu=1320, picture=picture)
        other = dict(args)
        other['picture'] = str(tmp_path / 'check.svg')
        run = run_playbook(play(verify_task('first', **args), verify_task('again', **args))
                           + play(verify_task('check mode', **other), verify_task('check mode, picture up to date', **args),
                                  check=True))
        asked = {name: set(node.asked) for name, node in mesh.nodes.items()}
    assert run.rc == 0, run.stdout[-3000:]
    first = run.result('first')
    assert first['healthy'] is True and first['changed'] is True
    assert first['counts'] == dict(nodes=5, pairs=20, pairs_up=20, pairs_ok=20, links=10, links_ok=10)
    assert first['matrix']['home-cp-1'] == {name: 'up' for name in NAMES if name != 'home-cp-1'}
    assert all(cell['receive_delta'] > 0 and cell['transmit_delta'] > 0 for cell in first['pairs'])
    assert first['summary'][0] == 'KubeSpan mesh: 5 nodes, 20 of 20 directions up, 10 of 10 links healthy'
    assert first['mtu']['ok'] is True
    # An unchanged mesh rewrites nothing.
    assert run.result('again')['changed'] is False
    root = ElementTree.parse(picture).getroot()
    cells = [rect for rect in root.iter(SVG + 'rect') if rect.get('class') == 'cell']
    assert len(cells) == 20 and {rect.get('fill') for rect in cells} == {'#2e7d32'}
    # Check mode answers the same, says the picture would be written, and writes nothing.
    checked = run.result('check mode')
    assert checked['matrix'] == first['matrix'] and checked['healthy'] is True and checked['changed'] is True
    assert checked['picture'] == other['picture'] and not os.path.exists(other['picture'])
    assert run.result('check mode, picture up to date')['changed'] is False
    # Read-only, least privilege: peer statuses and members only, never the identities (private key).
    assert all(kinds == {cosi_mesh.PEER_STATUSES, cosi_mesh.MEMBERS} for kinds in asked.values())


def test_broken_links_are_diagnosed_and_fail_the_task_unless_report_only(pki, talosconfig, run_playbook):
    never = dict(state='down', handshake=None, change=100.0, rx=0, rate=0)
    views = {
        # Inbound 51820 closed on both: nothing ever arrived either way.
        ('vps-cp-1', 'home-cp-1'): never, ('home-cp-1', 'vps-cp-1'): never,
        # UDP from home-w-1 to vps-cp-2 dropped: vps-cp-2 never received anything, home-w-1 did.
        ('vps-cp-2', 'home-w-1'): never, ('home-w-1', 'vps-cp-2'): dict(never, rx=1480),
    }
    for name in NAMES[:-1]:  # home-w-2 is stopped: everyone's last handshake with it is old
        views[(name, 'home-w-2')] = dict(state='down', handshake=400.0, change=900.0, rate=0)
    with start_mesh(pki, views, running=NAMES[:-1]) as mesh:
        # Given by address only: the module finds each name in the node's own members.
        nodes = [mesh.endpoint(name) for name in NAMES[:-1]] + [closed_endpoint(ADDRESSES['home-w-2'])]
        args = dict(nodes=nodes, talosconfig=talosconfig())
        run = run_playbook(play(dict(verify_task('strict', **args), ignore_errors=True),
                                verify_task('report', report_only=True, **args)))
    strict, report = run.result('strict'), run.result('report')
    assert strict['failed'] is True and report.get('failed') is not True
    assert strict['msg'].startswith('The KubeSpan mesh of 5 nodes is not healthy: 6 of 10 links broken: ')
    expected = {
        'vps-cp-1 <-> home-cp-1 (no_inbound_51820)', 'vps-cp-2 <-> home-w-1 (one_way)',
        'vps-cp-1 <-> home-w-2 (node_unreachable)', 'vps-cp-2 <-> home-w-2 (node_unreachable)',
        'home-cp-1 <-> home-w-2 (node_unreachable)', 'home-w-1 <-> home-w-2 (node_unreachable)'}
    assert set(strict['broken_links']) == set(report['broken_links']) == expected
    # The stopped node did not answer: its name comes from the others' members lists.
    assert [node['name'] for node in report['nodes']] == NAMES
    assert report['nodes'][-1]['reachable'] is False and report['nodes'][-1]['failure']['reason'] == 'unreachable'
    messages = {tuple(link['nodes']): link['message'] for link in report['links'] if not link['ok']}
    assert 'UDP 51820 reaches neither node' in messages[('vps-cp-1', 'home-cp-1')]
    assert 'packets from home-w-1 to vps-cp-2 are probably lost' in messages[('vps-cp-2', 'home-w-1')]
    assert 'home-w-2 is probably stopped or cut off' in messages[('vps-cp-1', 'home-w-2')]
    assert report['extras'] == []
    assert any(line.startswith('BROKEN vps-cp-1 <-> home-cp-1 [no_inbound_51820]') for line in report['summary'])


def test_a_certificate_without_a_role_is_refused_by_every_node_and_not_waited_out(pki, talosconfig, run_playbook):
    with start_mesh(pki, running=NAMES[:2]) as mesh:
        nodes = [{'name': name, 'address': mesh.endpoint(name)} for name in NAMES[:2]]
        # Waiting cannot cure a refused certificate: one check, then the failure (not 10 minutes later).
        run = run_playbook(play(verify_task(nodes=nodes, talosconfig=talosconfig('nobody'), wait=True, wait_timeout=600)))
    result = run.result('verify')
    assert result['failed'] is True and result['checks'] == 1
    assert result['msg'].startswith('No node answered, so the mesh cannot be judged; Talos API call List to node 127.0.0.31')
    assert 'needs one of' in result['msg'] and result['failure']['reason'] == 'permission_denied'


def test_nodes_can_be_read_through_one_control_plane_endpoint(pki, talosconfig, run_playbook):
    with start_mesh(pki) as mesh:
        nodes = [{'name': name, 'address': ADDRESSES[name]} for name in NAMES]
        run = run_playbook(play(verify_task(nodes=nodes, talosconfig=talosconfig(), endpoints=[mesh.endpoint('vps-cp-1')])))
        proxied = {name: node.proxied for name, node in mesh.nodes.items()}
    result = run.result('verify')
    assert result['healthy'] is True and result['counts']['pairs_up'] == 20
    # Two reads per node (peer statuses, members), all but vps-cp-1's own through vps-cp-1.
    assert proxied == dict({name: 2 for name in NAMES}, **{'vps-cp-1': 0})


def test_bad_input_is_refused_before_any_node_is_asked(talosconfig, run_playbook):
    closed = [closed_endpoint('127.0.0.31'), closed_endpoint('127.0.0.32')]
    run = run_playbook(play(
        dict(verify_task('one node', nodes=closed[:1], talosconfig=talosconfig()), ignore_errors=True),
        dict(verify_task('bad entry', nodes=[closed[0], {'name': 'x'}], talosconfig=talosconfig()), ignore_errors=True),
        dict(verify_task('bad address', nodes=[closed[0], '10.0.0.1:99999'], talosconfig=talosconfig()), ignore_errors=True),
        dict(verify_task('png', nodes=closed, picture='mesh.png', talosconfig=talosconfig()), ignore_errors=True),
    ))
    assert run.result('one node')['msg'] == 'nodes must list at least two nodes to make a mesh.'
    assert run.result('bad entry')['msg'] == "nodes[1] must be an address or a dict with an address, got {'name': 'x'}."
    assert run.result('bad address')['msg'] == "nodes[1]: the endpoint '10.0.0.1:99999' has an invalid port."
    assert run.result('png')['msg'] == 'picture must be an .svg path: only SVG pictures are drawn, got mesh.png.'
