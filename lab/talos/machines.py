"""The lab's hypervisor for a lab started empty (``python -m lab up --empty``): machines follow the APIs.

    python -m lab.talos.machines CONFIG.json      (``python -m lab up --empty`` starts it, ``down`` stops it)

Every ``poll`` seconds it asks the Hetzner stand-in (its control endpoint: status, address and user
data of every server) and the Proxmox stand-in (``/cluster/resources`` and the config of each VM) which
machines run, and makes the simulated Talos nodes match:

* a running server with a public IPv4 is a node of site ``vps`` at that address (a /32 behind the
  on-link gateway 172.31.1.1, as on Hetzner); a running VM (not a template) with a static cloud-init
  address (``ipconfig0: ip=A/N,gw=G``) is a node of site ``home``;
* a machine that stops loses its process and namespace and keeps its files (its disk): it boots again
  with its config; a deleted machine loses its files too; a new machine with an old name gets a new disk;
* a node process that died while its machine runs is started again (the machine rebooted).

A server's node reads its machine config from the metadata service at boot
(``http://169.254.169.254/hetzner/v1/userdata``, lab/talos/userdata.py), as Talos on Hetzner does: this
process serves it on the vps bridge's gateway address and an nftables DNAT rule in the root namespace
sends the nodes' requests for 169.254.169.254:80 there (only packets arriving from the vps bridge: the
machine's own route to 169.254.169.254 stays as it is). The answer is the user data of the server whose
address asks. VMs have no metadata service and boot into maintenance mode.

The node record (``talos-nodes.json``) is replaced atomically after every change, so ``lab status``,
the KubeSpan faults and the nodes' discovery registry see exactly the machines that run.
"""
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .. import process, state
from . import launcher, netns, topology, userdata
from .launcher import POWERED_OFF

LOG = logging.getLogger('lab.machines')
METADATA_ADDRESS = '169.254.169.254'
HETZNER_GATEWAY = topology.HETZNER_GATEWAY
_IPCONFIG = re.compile(r'(?:^|,)ip=([0-9.]+)/(\d+)(?:,|$)')
_GATEWAY = re.compile(r'(?:^|,)gw=([0-9.]+)(?:,|$)')


# ----------------------------------------------------------------------------- what the APIs say

def hcloud_machines(control_url):
    """({name: machine} of the Hetzner servers that run and have a public IPv4, {machine ids that exist})."""
    with urllib.request.urlopen(control_url + '/machines', timeout=10) as response:
        servers = json.load(response)['machines']
    found = {}
    for server in servers:
        if server['status'] != 'running' or not server['ipv4']:
            continue
        found[server['name']] = {
            'machine': 'hcloud-%d' % server['id'], 'name': server['name'], 'site': 'vps',
            'role': server['labels'].get('talos-role', 'unknown'), 'address': server['ipv4'], 'prefixlen': 32,
            'gateway': HETZNER_GATEWAY, 'user_data': server['user_data']}
    return found, {'hcloud-%d' % server['id'] for server in servers}


def control_post(control_url, path):
    request = urllib.request.Request(control_url + path, data=b'{}', method='POST', headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class Pve:
    """The Proxmox stand-in, read with the lab's root token."""

    def __init__(self, config):
        self.base = 'https://%s:%d/api2/json' % (config['host'], config['port'])
        self.auth = 'PVEAPIToken=%s=%s' % (config['token_id'], config['secret'])
        self.context = ssl.create_default_context(cafile=config['ca'])
        self.configs = {}  # vmid -> (status seen, config): a running VM's config is read once per boot

    def get(self, path):
        request = urllib.request.Request(self.base + path, headers={'Authorization': self.auth})
        with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
            return json.load(response)['data']

    def stop(self, vmid):
        """The VM's status becomes stopped, as PVE shows a guest that shut itself down."""
        node = next(vm['node'] for vm in self.get('/cluster/resources?type=vm') if vm.get('vmid') == vmid)
        request = urllib.request.Request('%s/nodes/%s/qemu/%d/status/stop' % (self.base, node, vmid), data=b'', method='POST',
                                         headers={'Authorization': self.auth})
        with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
            return json.load(response)['data']

    def machines(self):
        """({name: machine} of the running VMs with a static address, {machine ids that exist})."""
        vms = [vm for vm in self.get('/cluster/resources?type=vm') if vm.get('type', 'qemu') == 'qemu' and not vm.get('template')]
        existing = {'pve-%d' % vm['vmid'] for vm in vms}
        found = {}
        for vm in vms:
            if vm.get('status') != 'running':
                self.configs.pop(vm['vmid'], None)
                continue
            if vm['vmid'] not in self.configs:
                self.configs[vm['vmid']] = self.get('/nodes/%s/qemu/%d/config' % (vm['node'], vm['vmid']))
            config = self.configs[vm['vmid']]
            address, gateway = _IPCONFIG.search(config.get('ipconfig0') or ''), _GATEWAY.search(config.get('ipconfig0') or '')
            if not address or not gateway:
                continue
            tags = (vm.get('tags') or '').split(';')
            found[vm['name']] = {
                'machine': 'pve-%d' % vm['vmid'], 'name': vm['name'], 'site': 'home',
                'role': 'controlplane' if 'talos-controlplane' in tags else 'worker' if 'talos-worker' in tags else 'unknown',
                'address': address.group(1), 'prefixlen': int(address.group(2)), 'gateway': gateway.group(1),
                'user_data': None}
        return found, existing


# ----------------------------------------------------------------------------- the metadata service

class Metadata:
    """Hetzner's metadata service for the lab's servers: user data by the caller's address."""

    def __init__(self, address, port):
        self.user_data = {}  # node address -> bytes
        self.lock = threading.Lock()
        handler = type('MetadataHandler', (_MetadataHandler,), {'metadata': self})
        self.server = ThreadingHTTPServer((address, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def set(self, address, data):
        with self.lock:
            if data:
                self.user_data[address] = data
            else:
                self.user_data.pop(address, None)

    def lookup(self, address):
        with self.lock:
            return self.user_data.get(address)


class _MetadataHandler(BaseHTTPRequestHandler):
    metadata = None

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        LOG.info('metadata %s %s', self.client_address[0], format % args)

    def do_GET(self):  # pylint: disable=invalid-name
        data = self.metadata.lookup(self.client_address[0]) if self.path == userdata.USERDATA_PATH else None
        body = data if data is not None else b'not found\n'
        self.send_response(200 if data is not None else 404)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _nft(script, check=True):
    proc = subprocess.run(['nft', '-f', '-'], input=script, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('nft failed: %s' % proc.stderr.strip())
    return proc


def metadata_table(prefix):
    return '%smetadata' % prefix


def redirect_metadata(prefix, bridge, target, port):
    """Send the vps nodes' requests for 169.254.169.254:80 to ``target:port`` (only from ``bridge``)."""
    table = metadata_table(prefix)
    _nft('delete table ip %s\n' % table, check=False)
    _nft('add table ip %s\n'
         'add chain ip %s prerouting { type nat hook prerouting priority dstnat; policy accept; }\n'
         'add rule ip %s prerouting iifname "%s" ip daddr %s tcp dport 80 dnat to %s:%d\n'
         % (table, table, table, bridge, METADATA_ADDRESS, target, port))


def remove_redirect(prefix):
    _nft('delete table ip %s\n' % metadata_table(prefix), check=False)


# ----------------------------------------------------------------------------- the hypervisor

class Hypervisor:
    def __init__(self, config):
        self.config = config
        self.state_dir = config['state_dir']
        self.prefix = config['prefix']
        self.pairs = topology.parse_remap(config.get('remap', ''))
        self.pve = Pve(config['pve'])
        self.bridges = {'vps': self.prefix + 'vps', 'home': self.prefix + 'home'}
        self.gateway = self._remap(HETZNER_GATEWAY)
        self.metadata = None
        previous = launcher.read_nodes(self.state_dir) or {}
        self.record = {'prefix': self.prefix, 'bridges': sorted(self.bridges.values()), 'nodes': [], 'skipped': [],
                       'follows_apis': True, 'next_veth': previous.get('next_veth', 0)}
        self.base = os.path.join(self.state_dir, 'talos')

    def _remap(self, address):
        return topology._remap(address, self.pairs)  # pylint: disable=protected-access

    def setup(self):
        os.makedirs(self.base, mode=0o700, exist_ok=True)
        netns.ensure_bridge(self.bridges['vps'], ['%s/32' % self.gateway])
        netns.ensure_bridge(self.bridges['home'])
        self.metadata = Metadata(self.gateway, self.config.get('metadata_port', 80))
        self.metadata.start()
        redirect_metadata(self.prefix, self.bridges['vps'], self.gateway, self.metadata.server.server_address[1])
        self._save()

    def _save(self):
        path = state.path(launcher.NODES_FILE, state_dir=self.state_dir)
        temp = path + '.tmp'
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            json.dump(self.record, handle, indent=2, sort_keys=True)
        os.replace(temp, path)

    # ------------------------------------------------------------------ one pass

    def desired(self):
        machines, existing = hcloud_machines(self.config['hcloud_control'])
        home, vms = self.pve.machines()
        existing |= vms
        for name, machine in home.items():
            if name in machines:
                LOG.warning('VM %s has the name of a Hetzner server: not started', name)
                continue
            machines[name] = machine
        for machine in machines.values():
            machine['address'] = self._remap(machine['address'])
            machine['gateway'] = self._remap(machine['gateway'])
        return machines, existing

    def reconcile(self):
        wanted, existing = self.desired()
        current = {node['name']: node for node in self.record['nodes']}
        alive = launcher.running(self.record, self.state_dir)
        changed = False
        for name, node in current.items():
            machine = wanted.get(name)
            if machine is None or machine['machine'] != node['machine'] or machine['address'] != node['address']:
                self.stop(node, wipe=node['machine'] not in existing or (machine and machine['machine'] != node['machine']))
                changed = True
            elif name not in alive and os.path.exists(os.path.join(self.base, name, POWERED_OFF)):
                if self._switched_off(node):  # the hypervisor shows it off now: the next pass stops the node
                    LOG.info('node %s powered itself off: machine %s is off', name, node['machine'])
            elif name not in alive:
                LOG.info('node %s stopped while its machine runs: booting it again', name)
                self._spawn(node)
        current = {node['name']: node for node in self.record['nodes']}
        for name, machine in sorted(wanted.items()):
            if name not in current and name not in {s['name'] for s in self.record['skipped']}:
                self.start(machine)
                changed = True
        self.record['skipped'] = [s for s in self.record['skipped'] if s['name'] in wanted]
        for machine in wanted.values():
            if machine['site'] == 'vps':
                self.metadata.set(machine['address'], (machine['user_data'] or '').encode('utf-8'))
        if changed:
            self._save()

    def start(self, machine):
        node = {key: machine[key] for key in ('machine', 'name', 'site', 'role', 'address', 'prefixlen', 'gateway')}
        node.update(version=self.config['version'], netns=self.prefix + node['name'], bridge=self.bridges[node['site']],
                    veth='%sv%d' % (self.prefix, self.record['next_veth']))
        found = netns.conflicts([node], self.record['bridges'])
        if found:
            LOG.warning('node %s not started: its address %s would take over a network this machine uses (%s)',
                        node['name'], node['address'], '; '.join(found))
            self.record['skipped'].append({'name': node['name'], 'address': node['address'], 'reason': '; '.join(found)})
            return
        self.record['next_veth'] += 1
        if node['prefixlen'] != 32:
            network = ipaddress.ip_network('%s/%d' % (node['address'], node['prefixlen']), strict=False)
            netns.ensure_bridge(node['bridge'], ['%s/%d' % (node['gateway'], network.prefixlen)])
        node_dir = os.path.join(self.base, node['name'])
        marker = os.path.join(node_dir, 'machine')
        if os.path.isdir(node_dir) and _read(marker) != node['machine']:
            shutil.rmtree(node_dir)  # another machine's disk under this name
        os.makedirs(node_dir, mode=0o700, exist_ok=True)
        with open(marker, 'w', encoding='ascii') as handle:
            handle.write(node['machine'])
        if os.path.exists(os.path.join(node_dir, POWERED_OFF)):
            os.remove(os.path.join(node_dir, POWERED_OFF))  # switched on again
        config = dict(node, dir=node_dir, lab_dir=self.base,
                      nodes_file=state.path(launcher.NODES_FILE, state_dir=self.state_dir), port=launcher.PORT,
                      reboot_seconds=self.config['reboot_seconds'], boot_seconds=self.config.get('boot_seconds', 0.5),
                      root_mount_ns=os.stat('/proc/self/ns/mnt').st_ino)
        if node['site'] == 'vps':
            config['metadata_url'] = 'http://%s' % METADATA_ADDRESS
            self.metadata.set(node['address'], (machine['user_data'] or '').encode('utf-8'))  # before it boots
        state.write_json('node.json', config, state_dir=node_dir)
        try:
            netns.add_node(node)
        except netns.NetworkError:
            netns.remove_node(node)
            raise
        self.record['nodes'].append(node)
        self._save()  # the node reads the record (its discovery registry) as soon as it runs
        self._spawn(node)
        LOG.info('machine %s runs: node %s at %s', node['machine'], node['name'], node['address'])

    def _switched_off(self, node):
        """Tell the stand-in that ``node``'s machine is off, as a hypervisor sees a guest that powered off."""
        kind, _sep, number = node['machine'].partition('-')
        try:
            if kind == 'hcloud':
                control_post(self.config['hcloud_control'], '/machines/%s/off' % number)
            else:
                self.pve.stop(int(number))
        except (OSError, ValueError) as exc:
            LOG.warning('machine %s: could not be marked off (%s); trying again', node['machine'], exc)
            return False
        return True

    def _spawn(self, node):
        node_dir = os.path.join(self.base, node['name'])
        proc = launcher._spawn(node, os.path.join(node_dir, 'node.json'), node_dir)  # pylint: disable=protected-access
        LOG.info('node %s started (pid %d)', node['name'], proc.pid)

    def stop(self, node, wipe):
        pid = launcher.running({'nodes': [node]}, self.state_dir).get(node['name'])
        if pid:
            process.stop_group(pid, launcher.STOP_TIMEOUT)
        netns.remove_node(node)
        self.record['nodes'] = [n for n in self.record['nodes'] if n['name'] != node['name']]
        if node['site'] == 'vps':
            self.metadata.set(node['address'], None)
        if wipe:
            shutil.rmtree(os.path.join(self.base, node['name']), ignore_errors=True)
        LOG.info('machine %s %s: node %s stopped', node['machine'], 'deleted' if wipe else 'stopped', node['name'])

    def close(self):
        """Stop serving; the nodes stay for ``python -m lab down`` (launcher.down) to remove with the network."""
        self.metadata.server.shutdown()
        remove_redirect(self.prefix)


def _read(path):
    try:
        with open(path, encoding='ascii') as handle:
            return handle.read().strip()
    except OSError:
        return None


def run(config):
    hypervisor = Hypervisor(config)
    hypervisor.setup()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: stop.set())
    LOG.info('following the APIs every %g s', config['poll'])
    while not stop.is_set():
        try:
            hypervisor.reconcile()
        except (OSError, ValueError, KeyError, netns.NetworkError) as exc:
            LOG.warning('reconcile: %s', exc)
        stop.wait(config['poll'])
    hypervisor.close()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m lab.talos.machines CONFIG.json')
    with open(argv[0], encoding='utf-8') as handle:
        config = json.load(handle)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s machines %(levelname)s %(message)s')
    run(config)


if __name__ == '__main__':
    main()
