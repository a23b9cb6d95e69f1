"""Which Talos nodes the lab runs, and where: the addresses the Hetzner and Proxmox stand-ins report.

The inventory (``hybridops.talos.hybrid``) finds a node at the address its stand-in reports, so the
simulated node must sit exactly there. The stand-ins are asked when they run (their state files in
the lab directory hold the endpoints and tokens); without them (``python -m lab.talos up`` alone)
the seeds are replayed in code. Sites are laid out the way the real ones are:

* ``vps``: each server has its public address as a /32 and reaches the world through the on-link
  gateway 172.31.1.1, as Hetzner Cloud servers do;
* ``home``: each VM has the static ``ipconfig0`` address and gateway (10.10.0.0/24 via 10.10.0.1,
  scale VMs 10.11.0.0/16 via 10.11.0.1), as Proxmox cloud-init sets them.

``LAB_TALOS_REMAP`` (``FROM=TO`` networks, comma separated) moves addresses into other networks,
keeping their host bits: a second lab (the tests') must not claim the main lab's addresses.
"""
import ipaddress
import json
import re
import ssl
import urllib.parse
import urllib.request

from .. import state
from . import DEFAULT_VERSION, TALOS_VERSIONS

HETZNER_GATEWAY = '172.31.1.1'
ROLES = ('controlplane', 'worker')


class TopologyError(Exception):
    """The node list cannot be made; the message says why."""


def _node(name, site, role, address, prefixlen, gateway):
    return {'name': name, 'site': site, 'role': role, 'address': address, 'prefixlen': prefixlen, 'gateway': gateway}


# ----------------------------------------------------------------------------- Hetzner side

def _hcloud_api(state_dir):
    config = state.read_json('hcloud.json', state_dir=state_dir)
    if not config:
        return None
    token = next(t for t, mode in config['tokens'].items() if mode == 'ro')
    servers, page = [], 1
    while page:
        url = 'http://%s:%d/v1/servers?%s' % (config['host'], config['port'], urllib.parse.urlencode(
            {'label_selector': 'talos-role', 'per_page': 50, 'page': page, 'sort': 'id'}))
        request = urllib.request.Request(url, headers={'Authorization': 'Bearer ' + token})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        servers.extend(body['servers'])
        page = body['meta']['pagination']['next_page']
    return [_node(s['name'], 'vps', s['labels']['talos-role'], s['public_net']['ipv4']['ip'], 32, HETZNER_GATEWAY)
            for s in servers if (s['public_net'].get('ipv4') or {}).get('ip')]


def _hcloud_seed(extra=0):
    """The seed replayed: the store hands out public addresses in creation order (vps-0, vps-1, extras)."""
    from ..hcloud.store import Store
    store = Store()
    names = [('vps-%d' % i, 'controlplane') for i in range(2)] + [('lab-hc-%03d' % i, 'worker') for i in range(1, extra + 1)]
    return [_node(name, 'vps', role, store.public_ipv4()[0], 32, HETZNER_GATEWAY) for name, role in names]


# ----------------------------------------------------------------------------- Proxmox side

_IPCONFIG = re.compile(r'(?:^|,)ip=([0-9.]+)/(\d+)(?:,|$)')
_GATEWAY = re.compile(r'(?:^|,)gw=([0-9.]+)(?:,|$)')


def _from_ipconfig(name, tags, ipconfig):
    address, gateway = _IPCONFIG.search(ipconfig or ''), _GATEWAY.search(ipconfig or '')
    if not address or not gateway:
        return None
    role = 'controlplane' if 'talos-controlplane' in tags else 'worker'
    return _node(name, 'home', role, address.group(1), int(address.group(2)), gateway.group(1))


def _pve_api(state_dir):
    config = state.read_json('pve.json', state_dir=state_dir)
    if not config:
        return None
    token_id, secret = next((k, v) for k, v in config['tokens'].items() if k.startswith('root@pam!'))
    context = ssl.create_default_context(cafile=state.path('ca.crt', state_dir=state_dir))
    base = 'https://%s:%d/api2/json' % (config['host'], config['port'])

    def get(path):
        request = urllib.request.Request(base + path, headers={'Authorization': 'PVEAPIToken=%s=%s' % (token_id, secret)})
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return json.load(response)['data']
    nodes = []
    for vm in sorted(get('/cluster/resources?type=vm'), key=lambda vm: vm['vmid']):
        tags = (vm.get('tags') or '').split(';')
        if vm.get('template') or not any(tag in ('talos-controlplane', 'talos-worker') for tag in tags):
            continue
        vm_config = get('/nodes/%s/qemu/%d/config' % (vm['node'], vm['vmid']))
        node = _from_ipconfig(vm['name'], tags, vm_config.get('ipconfig0'))
        if node:
            nodes.append(node)
    return nodes


def _pve_seed(extra=0):
    """The seed replayed (lab/pve.py: SEED_VMS, and the scale VMs' address rule)."""
    from ..pve import SEED_VMS
    nodes = [_from_ipconfig(name, [tag], 'ip=%s/24,gw=10.10.0.1' % address) for _vmid, name, _n, tag, address, _m, _c in SEED_VMS]
    for index in range(1, extra + 1):
        address = '10.11.%d.%d' % (index // 250, index % 250 + 2)
        nodes.append(_from_ipconfig('lab-pve-%03d' % index, ['talos-worker'], 'ip=%s/16,gw=10.11.0.1' % address))
    return nodes


# ----------------------------------------------------------------------------- together

def parse_remap(text):
    """``'203.0.113.0/24=198.18.1.0/24,...'`` -> [(from network, to network)] of equal sizes."""
    pairs = []
    for item in filter(None, (part.strip() for part in (text or '').split(','))):
        source, _sep, target = item.partition('=')
        try:
            source, target = ipaddress.ip_network(source.strip()), ipaddress.ip_network(target.strip())
        except ValueError as exc:
            raise TopologyError('LAB_TALOS_REMAP entry %r is not FROM=TO networks: %s' % (item, exc)) from None
        if source.prefixlen != target.prefixlen:
            raise TopologyError('LAB_TALOS_REMAP entry %r maps networks of different sizes' % item)
        pairs.append((source, target))
    return pairs


def _remap(address, pairs):
    ip = ipaddress.ip_address(address)
    for source, target in pairs:
        if ip in source:
            return str(target.network_address + (int(ip) - int(source.network_address)))
    return address


def parse_versions(default, overrides):
    """Talos version per node: ``default`` for all, ``overrides`` like ``['vps-1=v1.13.9']``."""
    versions = {}
    for item in overrides or ():
        name, _sep, version = item.partition('=')
        versions[name.strip()] = version.strip()
    for version in [default] + list(versions.values()):
        if version not in TALOS_VERSIONS:
            raise TopologyError('Talos version %r is not simulated; use one of %s' % (version, ', '.join(TALOS_VERSIONS)))
    return default, versions


def build(state_dir=None, extra_workers=0, version=DEFAULT_VERSION, versions=None, remap=None, prefix='lab-'):
    """The node list: seed control planes and workers of both sites plus ``extra_workers`` scale VMs."""
    try:
        vps = _hcloud_api(state_dir)
        home = _pve_api(state_dir)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise TopologyError('cannot read the node addresses from the stand-ins: %s' % exc) from None
    vps = _hcloud_seed() if vps is None else vps
    home = _pve_seed(extra_workers) if home is None else home
    seed_home = [n for n in home if not n['name'].startswith('lab-pve-')]
    scale = [n for n in home if n['name'].startswith('lab-pve-')]
    if len(scale) < extra_workers:
        raise TopologyError('--talos-nodes %d needs that many Proxmox scale VMs, the stand-in has %d: '
                            'start the lab with --pve-vms %d' % (extra_workers, len(scale), extra_workers))
    # Only the seed servers of the Hetzner side: its scale servers are for inventory tests.
    vps = [n for n in vps if n['name'].startswith('vps-')]
    nodes = vps + seed_home + scale[:extra_workers]
    nodes.sort(key=lambda n: (n['site'] != 'vps', n['role'] != 'controlplane'))
    pairs = parse_remap(remap)
    versions = versions or {}
    unknown = set(versions) - {n['name'] for n in nodes}
    if unknown:
        raise TopologyError('no lab node is named %s' % ', '.join(sorted(unknown)))
    for index, node in enumerate(nodes):
        node['address'] = _remap(node['address'], pairs)
        node['gateway'] = _remap(node['gateway'], pairs)
        node['version'] = versions.get(node['name'], version)
        node['netns'] = prefix + node['name']
        # Interface names are at most 15 characters: the root end of the veth is named by index.
        node['veth'] = '%sv%d' % (prefix, index)
        if len(node['veth']) > 15 or len(prefix + node['site']) > 15:
            raise TopologyError('the name prefix %r is too long for Linux interface names' % prefix)
    return nodes
