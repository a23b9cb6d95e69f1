"""The lab network: one bridge per site in the root namespace, one namespace per node.

::

    root namespace (controller, ansible)            node namespace <prefix><node>
      bridge <prefix>vps   172.31.1.1/32  -- veth --  eth0 203.0.113.x/32, default via 172.31.1.1 onlink
         + route 203.0.113.x/32 per node
      bridge <prefix>home  10.10.0.1/24   -- veth --  eth0 10.10.0.x/24, default via 10.10.0.1
                           10.11.0.1/16               (scale VMs: 10.11.x.y/16 via 10.11.0.1)

The root namespace routes between the bridges (ip_forward), so the controller reaches every node
directly and every packet from one site to the other passes through the root namespace, where
faults (nftables, tc on the bridges) can be injected. ``ip -batch`` keeps ``up`` to a few commands.
"""
import ipaddress
import json
import subprocess


class NetworkError(Exception):
    """The network could not be built or removed; the message says why."""


def _ip(*args, batch=None, netns=None, check=True):
    command = ['ip'] + (['-n', netns] if netns else []) + (['-batch', '-'] if batch is not None else list(args))
    proc = subprocess.run(command, input=batch, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetworkError('`%s` failed: %s' % (' '.join(command), (proc.stderr or proc.stdout).strip()))
    return proc


def _json(*args):
    return json.loads(_ip('-j', *args).stdout or '[]')


def site_addresses(nodes):
    """{site bridge: [gateway interface addresses]}; /32 gateways for sites whose nodes use /32."""
    result = {}
    for node in nodes:
        if node['prefixlen'] == 32:
            entry = '%s/32' % node['gateway']
        else:
            network = ipaddress.ip_network('%s/%d' % (node['address'], node['prefixlen']), strict=False)
            entry = '%s/%d' % (node['gateway'], network.prefixlen)
        result.setdefault(node['bridge'], [])
        if entry not in result[node['bridge']]:
            result[node['bridge']].append(entry)
    return result


def conflicts(nodes, own_bridges):
    """Host routes and addresses that the lab's networks would shadow: a lab must never take over an
    address the machine uses (e.g. its own uplink's gateway)."""
    wanted = []
    for node in nodes:
        wanted.append(ipaddress.ip_network('%s/%d' % (node['address'], node['prefixlen']), strict=False))
    found = []
    for route in _json('route', 'show', 'table', 'main'):
        if route.get('dev') in own_bridges or route.get('dst') in (None, 'default'):
            if route.get('gateway') and route.get('dev') not in own_bridges:
                gateway = ipaddress.ip_address(route['gateway'])
                found += ['%s is the gateway of %s' % (gateway, route.get('dev'))
                          for net in wanted if gateway in net]
            continue
        network = ipaddress.ip_network(route['dst'], strict=False)
        found += ['%s overlaps %s on %s' % (net, network, route.get('dev')) for net in wanted if net.overlaps(network)]
    for link in _json('addr', 'show'):
        if link.get('ifname') in own_bridges:
            continue
        for info in link.get('addr_info', ()):
            if info.get('family') != 'inet':
                continue
            address = ipaddress.ip_address(info['local'])
            found += ['%s is an address of %s on this machine' % (address, link['ifname']) for net in wanted if address in net]
    return sorted(set(found))


def _set_forwarding():
    with open('/proc/sys/net/ipv4/ip_forward', 'r+', encoding='ascii') as handle:
        if handle.read().strip() != '1':
            handle.seek(0)
            handle.write('1\n')


def existing_namespaces():
    return {entry['name'] for entry in _json('netns', 'list')}


def _remove_stale(nodes):
    """Delete bridges, veths and namespaces named like ours that an interrupted ``up`` left behind.

    ``create`` only runs when this lab is not running, so anything carrying our names is stale; without
    this, one failed ``up`` would make every later one fail with "File exists".
    """
    links = {link['ifname'] for link in _json('link', 'show')}
    names = {node['veth'] for node in nodes} | {node['bridge'] for node in nodes}
    lines = ['link delete %s' % name for name in sorted(names & links)]
    present = existing_namespaces()
    lines += ['netns delete %s' % node['netns'] for node in nodes if node['netns'] in present]
    if lines:
        _ip(batch='\n'.join(lines) + '\n')


def create(nodes):
    """Build the bridges, namespaces and veth pairs for ``nodes`` (each with bridge, netns, veth)."""
    _set_forwarding()
    _remove_stale(nodes)
    root = []
    for bridge, addresses in site_addresses(nodes).items():
        root.append('link add %s type bridge' % bridge)
        root += ['address add %s dev %s' % (address, bridge) for address in addresses]
        root.append('link set %s up' % bridge)
    for node in nodes:
        root.append('netns add %s' % node['netns'])
        root.append('link add %s type veth peer name eth0 netns %s' % (node['veth'], node['netns']))
        root.append('link set %s master %s up' % (node['veth'], node['bridge']))
        if node['prefixlen'] == 32:
            root.append('route add %s/32 dev %s' % (node['address'], node['bridge']))
    _ip(batch='\n'.join(root) + '\n')
    for node in nodes:
        inner = ['link set lo up', 'address add %s/%d dev eth0' % (node['address'], node['prefixlen']), 'link set eth0 up']
        if node['prefixlen'] == 32:
            inner += ['route add %s dev eth0' % node['gateway'], 'route add default via %s dev eth0 onlink' % node['gateway']]
        else:
            inner.append('route add default via %s dev eth0' % node['gateway'])
        _ip(batch='\n'.join(inner) + '\n', netns=node['netns'])


def ensure_bridge(bridge, addresses=()):
    """Create ``bridge`` when missing (up) and give it each of ``addresses`` it lacks (``a.b.c.d/len``)."""
    _set_forwarding()
    links = {link['ifname']: link for link in _json('addr', 'show')}
    lines = []
    if bridge not in links:
        lines += ['link add %s type bridge' % bridge, 'link set %s up' % bridge]
        present = set()
    else:
        present = {'%s/%s' % (info['local'], info['prefixlen']) for info in links[bridge].get('addr_info', ())
                   if info.get('family') == 'inet'}
    lines += ['address add %s dev %s' % (address, bridge) for address in addresses if address not in present]
    if lines:
        _ip(batch='\n'.join(lines) + '\n')


def add_node(node):
    """One node's namespace, veth and addresses, on a bridge that exists (a machine that just booted)."""
    remove_node(node)  # what a node of this name left behind; the shared bridge stays
    if node['veth'] in {link['ifname'] for link in _json('link', 'show')}:
        _ip('link', 'delete', node['veth'])
    root = ['netns add %s' % node['netns'],
            'link add %s type veth peer name eth0 netns %s' % (node['veth'], node['netns']),
            'link set %s master %s up' % (node['veth'], node['bridge'])]
    if node['prefixlen'] == 32:
        root.append('route replace %s/32 dev %s' % (node['address'], node['bridge']))
    _ip(batch='\n'.join(root) + '\n')
    inner = ['link set lo up', 'address add %s/%d dev eth0' % (node['address'], node['prefixlen']), 'link set eth0 up']
    if node['prefixlen'] == 32:
        inner += ['route add %s dev eth0' % node['gateway'], 'route add default via %s dev eth0 onlink' % node['gateway']]
    else:
        inner.append('route add default via %s dev eth0' % node['gateway'])
    _ip(batch='\n'.join(inner) + '\n', netns=node['netns'])


def remove_node(node):
    """Undo ``add_node``: the namespace (its veth goes with it) and the host route to a /32 node."""
    if node['netns'] in existing_namespaces():
        _ip('netns', 'delete', node['netns'])
    if node['prefixlen'] == 32:
        _ip('route', 'del', '%s/32' % node['address'], 'dev', node['bridge'], check=False)


def destroy(netns_names, bridges):
    """Remove namespaces (their veth ends go with them) and bridges; missing ones are fine."""
    present = existing_namespaces()
    lines = ['netns delete %s' % name for name in netns_names if name in present]
    links = {link['ifname'] for link in _json('link', 'show')}
    lines += ['link delete %s' % bridge for bridge in bridges if bridge in links]
    if lines:
        _ip(batch='\n'.join(lines) + '\n')
