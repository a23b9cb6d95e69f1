"""Faults between the two sites (``python -m lab fault ...``, ``python -m lab heal``).

Every site-to-site packet is routed through the root namespace between the bridges ``<prefix>vps`` and
``<prefix>home``, so faults are rules there and nowhere else: one nftables table ``inet <prefix>faults``
(filter on the forward hook, NAT on postrouting, TPROXY on prerouting for the delay relay of
``delay.py``). ``heal`` (and ``down``) remove exactly these and stop the relay; ``heal`` also starts
nodes that ``fault stop`` powered off.

| fault | rules |
|---|---|
| ``cut`` | drop everything forwarded between the bridges, both ways |
| ``drop-udp --from SITE`` | drop UDP 51820 forwarded from SITE to the other site (one way) |
| ``netem [--delay MS] [--loss PCT]`` | loss: nftables drops that share of site-to-site packets; delay: the relay of delay.py |
| ``nat [--forward NODE]`` | masquerade home -> vps behind the vps bridge's address, NODE excepted; new connections vps -> home dropped except 51820 to NODE |
| ``closed --site SITE`` | drop new UDP 51820 towards SITE from the other site (a closed firewall; with ``nat``: both sides closed) |
| ``stop NODE`` | power the node off (``python -m lab.talos stop NODE``) |
| ``workload NS/NAME --mode crash|fail|pending`` | a Kubernetes workload's pods crash, its Job fails, or its pods stay Pending (lab/kube/faults.py) |
| ``isolate --site SITE`` | the controller (root namespace) reaches no node of SITE (AWX in the cloud, no home LAN); sites still meet |
| ``kubelet-notready NODE`` | the node turns NotReady once its kubelet runs another Kubernetes version (lab/kube/faults.py) |
| ``upgrade-rollback NODE`` | the node's next Talos upgrade reboots and comes back at the old version (lab/talos/upgrade.py) |
"""
import errno
import ipaddress
import os
import socket
import struct
import subprocess

from .. import state
from ..kube import faults as kube_faults
from . import delay as delay_relay, launcher, upgrade

SITES = ('vps', 'home')
PORT = 51820


class FaultError(Exception):
    pass


def _record(state_dir=None):
    record = launcher.read_nodes(state_dir)
    if not record or not record.get('nodes'):
        raise FaultError('no Talos nodes are running in this lab (%s)' % state.STATE_DIR)
    return record


def table_name(prefix):
    return '%sfaults' % prefix


def _bridge(record, site):
    name = record['prefix'] + site
    if name not in record.get('bridges', ()):
        raise FaultError('the lab has no %s site (bridge %s)' % (site, name))
    return name


def _nft(script, check=True):
    proc = subprocess.run(['nft', '-f', '-'], input=script, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise FaultError('nft failed: %s' % proc.stderr.strip())
    return proc


def _ensure_table(record):
    table = table_name(record['prefix'])
    _nft('add table inet %s\n'
         'add chain inet %s forward { type filter hook forward priority -5; policy accept; }\n'
         'add chain inet %s postrouting { type nat hook postrouting priority 95; policy accept; }\n' % (table, table, table))
    return table


def _rules(record, lines):
    table = _ensure_table(record)
    _nft(''.join('add rule inet %s %s\n' % (table, line) for line in lines))


def _other(site):
    return SITES[1 - SITES.index(site)]


def cut(record):
    vps, home = _bridge(record, 'vps'), _bridge(record, 'home')
    _rules(record, ['forward iifname "%s" oifname "%s" drop' % (vps, home), 'forward iifname "%s" oifname "%s" drop' % (home, vps)])


def drop_udp(record, source):
    _rules(record, ['forward iifname "%s" oifname "%s" udp dport %d drop' % (_bridge(record, source), _bridge(record, _other(source)), PORT)])


def closed(record, site):
    _rules(record, ['forward iifname "%s" oifname "%s" udp dport %d ct state new drop'
                    % (_bridge(record, _other(site)), _bridge(record, site), PORT)])
    forget_flows(record)


def isolate(record, site):
    """Drop what the root namespace itself sends to SITE's nodes (the output hook): the controller must then go
    through a node of the other site, whose traffic to SITE is forwarded and passes."""
    table = _ensure_table(record)
    _nft('add chain inet %s output { type filter hook output priority 0; policy accept; }\n' % table)
    _rules(record, ['output oifname "%s" drop' % _bridge(record, site)])


def nat(record, forward=None):
    """Masquerade the home site; a port-forwarded node keeps one public endpoint both ways, its own address.

    A forwarded node must not be masqueraded as well: a VPS node dialling it while one of its own flows is
    masqueraded clashes in conntrack, the kernel then rewrites the VPS node's source port, and both ends
    roam to endpoints that die with the fault (for Talos' 275 s, past any heal). A real router's port
    forward is likewise one mapping, the same address and port in and out.
    """
    vps, home = _bridge(record, 'vps'), _bridge(record, 'home')
    lines, masquerade = [], 'postrouting iifname "%s" oifname "%s" masquerade' % (home, vps)
    if forward:
        node = next((n for n in record['nodes'] if n['name'] == forward), None)
        if node is None or node['site'] != 'home':
            raise FaultError('%s is not a node of the home site' % forward)
        lines.append('forward iifname "%s" oifname "%s" ip daddr %s udp dport %d accept' % (vps, home, node['address'], PORT))
        masquerade = 'postrouting iifname "%s" oifname "%s" ip saddr != %s masquerade' % (home, vps, node['address'])
    lines += ['forward iifname "%s" oifname "%s" ct state new drop' % (vps, home), masquerade]
    _rules(record, lines)
    # Conntrack in the root namespace only runs while a table needs it, so flows the mesh already has may or
    # may not be known here: forgetting them makes the NAT apply to every flow from its next packet on.
    forget_flows(record)


def _attr(kind, payload, nested=False):
    data = struct.pack('=HH', 4 + len(payload), kind | (0x8000 if nested else 0)) + payload
    return data + bytes(-len(data) % 4)


def forget_flows(record):
    """Delete the root namespace's conntrack entries of WireGuard flows between the sites' nodes (ctnetlink).

    nftables NAT and ``ct state new`` rules only see new flows: without this, flows the mesh already has
    would carry on as if nothing had changed. Only entries between two of the lab's node addresses go.
    """
    by_site = {site: [n['address'] for n in record['nodes'] if n['site'] == site] for site in SITES}
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    deleted = 0
    try:
        sequence = 0
        for one in by_site['vps']:
            for other in by_site['home']:
                for source, target in ((one, other), (other, one)):
                    ip = _attr(1, ipaddress.IPv4Address(source).packed) + _attr(2, ipaddress.IPv4Address(target).packed)
                    proto = _attr(1, bytes([17])) + _attr(2, struct.pack('!H', PORT)) + _attr(3, struct.pack('!H', PORT))
                    body = struct.pack('=BBH', socket.AF_INET, 0, 0) + _attr(1, _attr(1, ip, True) + _attr(2, proto, True), True)
                    sequence += 1
                    # IPCTNL_MSG_CT_DELETE in NFNL_SUBSYS_CTNETLINK; NLM_F_REQUEST | NLM_F_ACK
                    sock.send(struct.pack('=IHHII', 16 + len(body), (1 << 8) | 2, 1 | 4, sequence, 0) + body)
                    reply = sock.recv(4096)
                    code = -struct.unpack('=i', reply[16:20])[0]
                    if code == 0:
                        deleted += 1
                    elif code != errno.ENOENT:
                        raise FaultError('conntrack delete failed: %s' % os.strerror(code))
    finally:
        sock.close()
    return deleted


def netem(record, delay=None, loss=None):
    """Loss: nftables drops a random share of the packets between the sites (both ways). Delay: the KubeSpan
    packets between the sites (UDP 51820, both ways) are held that many milliseconds by the relay of delay.py."""
    if not delay and not loss:
        raise FaultError('netem needs --delay or --loss')
    if loss and not 0 < loss <= 100:
        raise FaultError('--loss must be a percentage in (0, 100]')
    if delay and not 0 < delay <= delay_relay.MAX_DELAY_MS:
        raise FaultError('--delay must be more than 0 and at most %d milliseconds' % delay_relay.MAX_DELAY_MS)
    if loss:
        vps, home = _bridge(record, 'vps'), _bridge(record, 'home')
        share = max(1, int(round(loss * 100)))
        _rules(record, ['forward iifname "%s" oifname "%s" numgen random mod 10000 < %d drop' % (a, b, share)
                        for a, b in ((vps, home), (home, vps))])
    if delay:
        try:
            port, mark = delay_relay.start(record, delay)
        except delay_relay.DelayError as exc:
            raise FaultError(str(exc)) from None
        table = _ensure_table(record)
        _nft('add chain inet %s prerouting { type filter hook prerouting priority mangle; policy accept; }\n' % table)
        _nft('flush chain inet %s prerouting\n' % table)  # a second --delay replaces the first
        _rules(record, delay_relay.tproxy_rules(record, port, mark))


def clear(record, state_dir=None):
    """Remove the fault table and stop the delay relay; True when there was something to remove."""
    removed = _nft('delete table inet %s\n' % table_name(record['prefix']), check=False).returncode == 0
    return delay_relay.stop(record, state_dir) or removed


def upgrade_rollback(record, name, state_dir=None):
    if name not in [n['name'] for n in record['nodes']]:
        raise FaultError('%s is not a Talos node of this lab' % name)
    upgrade.set_rollback_fault(os.path.join(launcher.talos_dir(state_dir), name))


def heal(state_dir=None):
    record = _record(state_dir)
    if clear(record, state_dir):
        forget_flows(record)
    upgrade.clear_rollback_faults([os.path.join(launcher.talos_dir(state_dir), n['name']) for n in record['nodes']])
    alive = launcher.running(record, state_dir)
    stopped = [n['name'] for n in record['nodes'] if n['name'] not in alive]
    # launcher.up with nodes running only starts the stopped ones; in a lab that follows the APIs the hypervisor does.
    if stopped and alive and not record.get('follows_apis'):
        launcher.up(state_dir)
    return stopped


def add_parsers(commands):
    """``fault`` and ``heal`` subcommands for an argparse ``add_subparsers`` object."""
    fault = commands.add_parser('fault', help='inject a fault between the sites (docs/lab-kubespan.md)')
    kinds = fault.add_subparsers(dest='fault', required=True)
    kinds.add_parser('cut', help='cut the link between the sites')
    kinds.add_parser('drop-udp', help='drop UDP 51820 in one direction').add_argument('--from', dest='source', choices=SITES, required=True)
    net = kinds.add_parser('netem', help='delay (KubeSpan packets) and/or loss between the sites')
    net.add_argument('--delay', type=float, metavar='MS', help='hold KubeSpan packets between the sites MS milliseconds, each way')
    net.add_argument('--loss', type=float, metavar='PERCENT', help='drop this share of the packets between the sites')
    kinds.add_parser('nat', help='put the home site behind NAT').add_argument('--forward', metavar='NODE', help='forward 51820/udp to this home node')
    kinds.add_parser('closed', help='close inbound 51820/udp of a site').add_argument('--site', choices=SITES, required=True)
    kinds.add_parser('stop', help='power a node off').add_argument('node')
    kinds.add_parser('isolate', help="cut the controller off a site's nodes").add_argument('--site', choices=SITES, required=True)
    kinds.add_parser('upgrade-rollback', help="the node's next Talos upgrade comes back at the old version").add_argument('node')
    kube_faults.add_parser(kinds)  # workloads: crash, fail, pending (lab/kube/faults.py)
    commands.add_parser('heal', help='remove every fault and start stopped nodes')


def run(args):
    """Carry out ``fault``/``heal``; returns the exit status."""
    try:
        if args.command == 'heal':
            kube_faults.clear()
            started = heal()
            print('faults removed%s' % ('; nodes started: %s' % ', '.join(started) if started else ''))
            return 0
        if args.fault == 'kubelet-notready':
            kube_faults.add_node(args.node, 'kubelet-notready')
            print('fault kubelet-notready %s in place' % args.node)
            return 0
        if args.fault == 'workload':
            kube_faults.run(args)
            print('fault workload %s (%s) in place' % (args.target, args.mode))
            return 0
        record = _record()
        if args.fault == 'cut':
            cut(record)
        elif args.fault == 'drop-udp':
            drop_udp(record, args.source)
        elif args.fault == 'netem':
            netem(record, args.delay, args.loss)
        elif args.fault == 'nat':
            nat(record, args.forward)
        elif args.fault == 'closed':
            closed(record, args.site)
        elif args.fault == 'stop':
            launcher.stop_node(args.node)
        elif args.fault == 'isolate':
            isolate(record, args.site)
        elif args.fault == 'upgrade-rollback':
            upgrade_rollback(record, args.node)
    except (FaultError, launcher.LaunchError) as exc:
        raise SystemExit('lab: %s' % exc) from None
    print('fault %s in place' % args.fault)
    return 0
