"""KubeSpan with real WireGuard in the lab, read by the real kubespan_verify module; faults between the sites.

The lab refreshes peer statuses every second and sends WireGuard keepalives every second (Talos: 30 s
and 25 s), so two samples 3 s apart see every working direction's counters grow. No test sleeps for
a fixed time: after a fault, each polls the module until it reports what the fault must cause (a
reading taken across the fault just fails one poll), within a bound.
"""
import os
import subprocess
import sys
import threading

import pytest

from kubespan_lab import PREFIX, ROOT, kubespan_rtt_ms, lab_env
from sim_support import wait_for

from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.resources import peer_status
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from lab.talos.delay import routing_id

PEER_STATUSES = ('kubespan', 'KubeSpanPeerStatuses.kubespan.talos.dev')
VPS = ('vps-0', 'vps-1')
HOME = ('home-cp-0', 'home-w-0', 'home-w-1')
CROSS = {tuple(sorted((a, b))) for a in VPS for b in HOME}


def verify(mesh, run_playbook, **args):
    task = {'name': 'verify', 'hybridops.talos.kubespan_verify': dict(
        dict(nodes=mesh.node_list(), talosconfig=mesh.talosconfig, samples=2, sample_interval=3, report_only=True,
             wait=False), **args)}
    run = run_playbook([{'name': 'mesh', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [task]}])
    result = run.result('verify')
    assert 'counts' in result, (run.rc, result, run.stderr[-2000:])
    return result


def fault(mesh, *args):
    """Inject a fault; the tests then poll until the module sees its effect."""
    mesh.lab('fault', *args)


def _broken_by_keys(result):
    """{(a, b): link} of every broken link (names sorted)."""
    return {tuple(sorted(link['nodes'])): link for link in result['links'] if not link['ok']}


def all_up(mesh):
    """Every node sees its four peers up (through the Talos API, as an admin); raises with what it saw otherwise,
    and for each peer not up what WireGuard on both ends of that link shows."""
    seen = {name: [peer_status(r) for r in mesh.cluster.client(mesh.address(name)).list_resources(*PEER_STATUSES)]
            for name in mesh.nodes}
    wrong = [name for name, statuses in seen.items() if len(statuses) != 4 or any(s['state'] != 'up' for s in statuses)]
    if wrong:
        lines = ['%s sees %s' % (name, sorted((s['label'], s['state']) for s in seen[name])) for name in wrong]
        for name in wrong:
            for status in (s for s in seen[name] if s['state'] != 'up'):
                back = next((s for s in seen.get(status['label'], ()) if s['label'] == name), None)
                lines.append('  %s; %s' % (_link_end(name, status), _link_end(status['label'], back)))
        raise Unexpected('\n'.join(lines))
    return True


def _link_end(name, status):
    """One end of a link as its peer status shows it: WireGuard's endpoint, the last handshake, the last endpoint change."""
    if status is None:
        return '%s has no status for it' % name
    return '%s>%s %s endpoint=%s (set %s at %s) handshake=%s rx=%s tx=%s' % (
        name, status['label'], status['state'], status['endpoint'], status['last_used_endpoint'],
        _clock(status['last_endpoint_change']), _clock(status['last_handshake_time']), status['receive_bytes'],
        status['transmit_bytes'])


def _clock(value):
    return value.strftime('%H:%M:%S.%f')[:-3] if value else 'never'


class Unexpected(AssertionError):
    """What a check saw when it was not what the test waits for (wait_for reports the last one)."""


def _seen(result):
    """The broken links and failed directions of a verify result, short enough for an assertion message."""
    failed = sorted('%s>%s:%s' % (p['from'], p['to'], ','.join(p['failed'])) for p in result['pairs'] if p['failed'])
    return 'broken=%s failed=%s' % (sorted(_broken_by_keys(result)), failed)


def verify_healthy(mesh, run_playbook):
    """The verify result when the mesh is healthy (for wait_for); raises with what it saw otherwise."""
    result = verify(mesh, run_playbook)
    if not result['healthy']:
        raise Unexpected(_seen(result))
    return result


# Generous bounds: under the full suite on two shared cores, refreshes and handshakes run late.
SETTLE_TIMEOUT = 90


def healthy(mesh, run_playbook):
    wait_for(lambda: all_up(mesh), SETTLE_TIMEOUT, step=0.5, what='every KubeSpan peer up')
    result = wait_for(lambda: verify_healthy(mesh, run_playbook), SETTLE_TIMEOUT, step=1, what='a healthy mesh')
    assert result['counts']['pairs_up'] == 20 and not result['broken_links'], result['summary']
    return result


def broken_until(mesh, run_playbook, expected, what, reason=None, also=None):
    """Verify until exactly the ``expected`` links are broken (each for ``reason`` if given, and ``also(result)``
    holds if given); return that result."""
    def check():
        result = verify(mesh, run_playbook)
        found = _broken_by_keys(result)
        reasons = {link['reason'] for link in found.values()}
        if set(found) != expected or (reason and reasons != {reason}) or (also and not also(result)):
            raise Unexpected('%s reasons=%s' % (_seen(result), sorted(reasons)))
        return result
    return wait_for(check, SETTLE_TIMEOUT, step=1, what=what)


@pytest.fixture
def heal(mesh):
    yield
    mesh.lab('heal')


def test_a_healthy_five_node_mesh_is_all_up(mesh, run_playbook):
    result = healthy(mesh, run_playbook)
    assert result['matrix'] and all(state == 'up' for row in result['matrix'].values() for state in row.values())
    assert len(result['pairs']) == 20


def test_the_interface_address_and_mtu_come_from_the_config(mesh):
    for name in mesh.nodes:
        out = subprocess.run(['ip', '-n', mesh.nodes[name]['netns'], '-j', 'address', 'show', 'kubespan'],
                             capture_output=True, text=True, check=True).stdout
        assert '"mtu":1420' in out.replace(' ', '') and '"local":"fd' in out.replace(' ', '')
        # The WireGuard control socket lives in the node's own mount namespace (a private /run/wireguard).
        with open(os.path.join(mesh.node_dir(name), 'node.pid'), encoding='ascii') as handle:
            pid = handle.read().strip()
        wg = subprocess.run(['nsenter', '-t', pid, '-m', '-n', 'wg', 'show', 'kubespan', 'listen-port'],
                            capture_output=True, text=True, check=True).stdout
        assert wg.strip() == '51820'


def test_the_private_key_never_leaves_the_node(mesh):
    keys = {}
    for name in mesh.nodes:
        directory = os.path.join(mesh.node_dir(name), 'kubespan')
        path = os.path.join(directory, 'private.key')
        assert os.stat(directory).st_mode & 0o777 == 0o700 and os.stat(path).st_mode & 0o777 == 0o600
        with open(path, encoding='ascii') as handle:
            keys[name] = handle.read().strip()
    admin = mesh.cluster.client(mesh.address('vps-0'))
    with pytest.raises(TalosApiError) as refused:
        admin.list_resources('kubespan', 'KubeSpanIdentities.kubespan.talos.dev')
    assert 'never serves' in str(refused.value) or refused.value.reason == 'permission_denied'
    answers = b''
    for name in mesh.nodes:
        client = mesh.cluster.client(mesh.address(name))
        for namespace, kind in (PEER_STATUSES, ('kubespan', 'KubeSpanPeerSpecs.kubespan.talos.dev'), ('cluster', 'Members.cluster.talos.dev'),
                                ('cluster', 'Affiliates.cluster.talos.dev'), ('runtime', 'MachineStatuses.runtime.talos.dev')):
            answers += b''.join(r.SerializeToString() for r in client.list_resources(namespace, kind))
    assert b'KubeSpanPeerSpecs' in answers
    for name, key in keys.items():
        assert key.encode() not in answers, name
    # Outside each node's private kubespan directory, no file of the lab holds a private key.
    for top, _dirs, files in os.walk(mesh.state_dir):
        for filename in files:
            path = os.path.join(top, filename)
            if filename == 'private.key' and os.path.basename(top) == 'kubespan':
                continue
            with open(path, 'rb') as handle:
                data = handle.read()
            assert not any(key.encode() in data for key in keys.values()), path
    # The root namespace has no KubeSpan interface and no WireGuard socket of the nodes.
    assert subprocess.run(['ip', 'link', 'show', 'kubespan'], capture_output=True, check=False).returncode != 0
    assert not os.path.exists('/run/wireguard/kubespan.sock')


def test_cutting_the_site_link_breaks_exactly_the_six_cross_site_links(mesh, run_playbook, heal):
    healthy(mesh, run_playbook)
    fault(mesh, 'cut')
    result = broken_until(mesh, run_playbook, CROSS, 'the six cross-site links broken')
    found = _broken_by_keys(result)
    assert set(found) == CROSS, (result['summary'], [p for p in result['pairs'] if 'home-w-1' in (p['from'], p['to'])])
    assert all(link['reason'] and link['message'] for link in found.values())
    mesh.lab('heal')
    healthy(mesh, run_playbook)


def test_a_one_way_udp_drop_is_diagnosed_as_one_way(mesh, run_playbook, heal):
    healthy(mesh, run_playbook)
    fault(mesh, 'drop-udp', '--from', 'home')

    # On links that were up, Talos keeps both ends `up` until the last handshake is 275 s old: the evidence is in
    # the counters, and only the VPS ends stop receiving.
    def vps_ends_silent(seen):
        return {(p['from'], p['to']) for p in seen['pairs'] if 'no_traffic' in p['failed']} == {(a, b) for a in VPS for b in HOME}
    result = broken_until(mesh, run_playbook, CROSS, 'the six cross-site links broken, silent at the VPS ends',
                          also=vps_ends_silent)
    assert vps_ends_silent(result), result['summary']
    # The VPS nodes restart (their WireGuard sessions are gone): they cannot complete a handshake any more while
    # the home nodes still hear them, and after Talos' 15 s the pairs are diagnosed as one-way.
    for name in VPS:
        mesh.lab('stop', name, module='lab.talos')
    mesh.lab('up', module='lab.talos')

    def one_way_everywhere():
        seen = verify(mesh, run_playbook, sample_interval=6)
        links = _broken_by_keys(seen)
        if set(links) != CROSS or {link['reason'] for link in links.values()} != {'one_way'}:
            raise Unexpected('%s reasons=%s' % (_seen(seen), sorted({link['reason'] for link in links.values()})))
        return seen
    # Talos' rules need 15 s after the restart before a pair can be told one-way: the poll allows for that.
    result = wait_for(one_way_everywhere, SETTLE_TIMEOUT + 15, step=1, what='the six cross-site links diagnosed one-way')
    found = _broken_by_keys(result)
    assert set(found) == CROSS, result['summary']
    assert {link['reason'] for link in found.values()} == {'one_way'}, result['summary']
    for (a, b), link in found.items():
        vps, home = (a, b) if a in VPS else (b, a)
        assert 'packets from %s to %s are probably lost' % (home, vps) in link['message'], link['message']
    mesh.lab('heal')
    healthy(mesh, run_playbook)


def test_home_behind_nat_meshes_through_the_open_vps_port_until_both_sides_close(mesh, run_playbook, heal):
    healthy(mesh, run_playbook)
    # Both sides closed except a port forward to home-w-0: only its links to the VPS nodes keep working.
    mesh.lab('fault', 'nat', '--forward', 'home-w-0')
    fault(mesh, 'closed', '--site', 'vps')
    broken_until(mesh, run_playbook, {tuple(sorted((a, b))) for a in VPS for b in ('home-cp-0', 'home-w-1')},
                 'only the links without a forward broken')
    mesh.lab('heal')
    healthy(mesh, run_playbook)
    fault(mesh, 'nat')
    result = wait_for(lambda: verify_healthy(mesh, run_playbook), SETTLE_TIMEOUT, step=1, what='a mesh through NAT')
    assert result['counts']['pairs_up'] == 20
    # The VPS nodes see the home nodes behind the NAT address (WireGuard roaming), not their own addresses.
    gateway = mesh.nodes['vps-0']['gateway']
    statuses = [peer_status(r) for r in mesh.cluster.client(mesh.address('vps-0')).list_resources(*PEER_STATUSES)]
    assert {s['endpoint'].split(':')[0] for s in statuses if s['label'] in HOME} == {gateway}
    # The router forgets its mappings and the VPS firewall closes: the VPS nodes keep sending to the addresses
    # they learnt through the NAT, Talos keeps the links up for 275 s, and only the evidence says why.
    fault(mesh, 'closed', '--site', 'vps')
    result = broken_until(mesh, run_playbook, CROSS, 'the six cross-site links broken by lost NAT mappings',
                          reason='nat_mapping_lost')
    assert all('at %s:' % gateway in link['message'] for link in result['links'] if not link['ok']), result['summary']
    mesh.lab('heal')
    healthy(mesh, run_playbook)


def test_a_stopped_node_is_reported_and_heal_starts_it(mesh, run_playbook, heal):
    healthy(mesh, run_playbook)
    fault(mesh, 'stop', 'home-w-1')
    result = broken_until(mesh, run_playbook, {tuple(sorted(('home-w-1', other))) for other in mesh.nodes if other != 'home-w-1'},
                          "home-w-1's four links broken")
    found = _broken_by_keys(result)
    assert {link['reason'] for link in found.values()} == {'node_unreachable'}
    mesh.lab('heal')
    healthy(mesh, run_playbook)


def test_the_module_waits_for_a_node_coming_back(mesh, run_playbook, heal):
    healthy(mesh, run_playbook)
    fault(mesh, 'stop', 'home-w-1')
    # The node comes back while the module keeps checking: the mesh is judged once it is healthy again.
    timer = threading.Timer(8, mesh.lab, ('heal',))
    timer.start()
    try:
        result = verify(mesh, run_playbook, report_only=False, wait=True, wait_timeout=SETTLE_TIMEOUT)
    finally:
        timer.join()
    assert result.get('failed') is not True and result['healthy'], result.get('summary') or result
    assert result['checks'] > 1 and result['counts']['pairs_up'] == 20


def _forwarded(mesh, name):
    with open(os.path.join(mesh.node_dir(name), 'node.log'), encoding='utf-8', errors='replace') as handle:
        return sum(1 for line in handle if ' api forward ' in line)


def test_the_mesh_can_be_read_through_one_control_plane(mesh, run_playbook):
    healthy(mesh, run_playbook)
    before = _forwarded(mesh, 'vps-0')
    # Every call goes to vps-0, which passes it on to the node named (talosctl -e vps-0 -n NODE), with the reader role.
    result = verify(mesh, run_playbook, endpoints=[mesh.address('vps-0')], samples=1)
    assert result['healthy'] and result['counts']['pairs_up'] == 20, result['summary']
    assert _forwarded(mesh, 'vps-0') - before == 2 * 4  # peer statuses and members of the four other nodes
    # A worker holds no OS CA key to forward with: every other node is reported, with Talos' reason.
    result = verify(mesh, run_playbook, endpoints=[mesh.address('home-w-0')], samples=1)
    silent = [node for node in result['nodes'] if not node['reachable']]
    assert sorted(node['name'] for node in silent) == sorted(set(mesh.nodes) - {'home-w-0'})
    assert all('no request forwarding' in node['error'] for node in silent), silent


def test_loss_and_heal_leave_nothing_behind(mesh):
    bad = subprocess.run([sys.executable, '-m', 'lab', 'fault', 'netem', '--loss', '30', '--delay', '-5'], cwd=ROOT,
                         env=lab_env(mesh.state_dir), capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and '--delay must be more than 0' in bad.stderr
    assert subprocess.run(['nft', 'list', 'table', 'inet', 'lks-faults'], capture_output=True, check=False).returncode != 0
    mesh.lab('fault', 'netem', '--loss', '30')
    rules = subprocess.run(['nft', 'list', 'table', 'inet', 'lks-faults'], capture_output=True, text=True, check=True).stdout
    assert rules.count('numgen random mod 10000 < 3000 drop') == 2
    mesh.lab('heal')
    assert subprocess.run(['nft', 'list', 'table', 'inet', 'lks-faults'], capture_output=True, check=False).returncode != 0


def _delay_relays():
    return [line for line in subprocess.run(['ps', '-eo', 'args'], capture_output=True, text=True, check=True).stdout.splitlines()
            if 'lab.talos.delay' in line]


def test_a_delay_between_the_sites_slows_kubespan_and_the_mesh_stays_up(mesh, run_playbook, heal):
    healthy(mesh, run_playbook)
    bridge_nf = _read_sysctl('net/bridge/bridge-nf-call-iptables')
    before = kubespan_rtt_ms(mesh, 'vps-0', 'home-cp-0')
    mesh.lab('fault', 'netem', '--delay', '80')
    # Every KubeSpan packet between the sites waits 80 ms in the relay, each way; inside a site nothing changes.
    across = kubespan_rtt_ms(mesh, 'vps-0', 'home-cp-0')
    within = kubespan_rtt_ms(mesh, 'home-w-0', 'home-cp-0')
    # Bounds with room for a loaded machine: twice the delay would mean packets relayed twice.
    assert 160 <= across < 300, (before, across)
    assert within < 80 and before < 80, (before, within)
    assert len(_delay_relays()) == 1
    # A home line 80 ms away from Hetzner is a working mesh: every link stays up and passes.
    result = verify(mesh, run_playbook)
    assert result['healthy'] and result['counts']['pairs_ok'] == 20, result['summary']
    mesh.lab('heal')
    assert _delay_relays() == [] and kubespan_rtt_ms(mesh, 'vps-0', 'home-cp-0') < 80
    assert _read_sysctl('net/bridge/bridge-nf-call-iptables') == bridge_nf
    rules = subprocess.run(['ip', 'rule', 'show'], capture_output=True, text=True, check=True).stdout
    assert 'lookup %d' % routing_id(PREFIX) not in rules
    assert subprocess.run(['nft', 'list', 'table', 'inet', 'lks-faults'], capture_output=True, check=False).returncode != 0


def _read_sysctl(name):
    try:
        with open('/proc/sys/' + name, encoding='ascii') as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None
