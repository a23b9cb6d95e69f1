"""KubeSpan in a simulated node: a real WireGuard interface (``wireguard-go``, userspace) in the node's namespace.

When the running config enables KubeSpan (``machine.network.kubespan.enabled``, or a ``KubeSpanConfig``
document on v1.13), the node

* makes its key pair with ``wg genkey`` in its private directory (``<node dir>/kubespan/private.key``, 0600,
  the directory 0700); the key is only ever handed to ``wg set ... private-key FILE`` and is never served
  (``KubeSpanIdentities`` is refused, see resources.py);
* starts ``wireguard-go kubespan`` (listen port 51820, MTU from the config, default 1420) with a
  private ``/run/wireguard`` (a tmpfs in the node's own mount namespace, made by ``ip netns exec``),
  so every node has an interface called ``kubespan`` and its own control socket;
* publishes its public key, KubeSpan address and endpoint (node address:51820) in the lab's discovery
  registry: ``<lab dir>/discovery/<sha256(cluster id)[:16]>/<node>.json``, and learns its peers there;
* every ``refresh`` seconds (Talos: 30 s; ``LAB_TALOS_KUBESPAN_REFRESH``) reads the device from wireguard-go's
  control socket (handshake times in nanoseconds, as Talos reads them) and computes
  each peer's status with Talos' rules (15 s / 275 s), rotating to the peer's next endpoint when it is down.

KubeSpan address: the cluster's ULA prefix is ``fd`` + the first 7 bytes of sha256(cluster id) (a /64);
a node's address in it is the prefix + the first 8 bytes of sha256(its WireGuard public key).
"""
import asyncio
import base64
import ctypes
import datetime
import hashlib
import ipaddress
import json
import logging
import os
import signal
import socket
import subprocess
import time

LOG = logging.getLogger('lab.talos')
PORT = 51820
INTERFACE = 'kubespan'
DEFAULT_MTU = 1420
ENDPOINT_CONNECTION_TIMEOUT = 15.0
PEER_DOWN_INTERVAL = 275.0
RUN_DIR = '/run/wireguard'
STATES = ('unknown', 'up', 'down')


def _env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value else default


def refresh_seconds():
    return _env_float('LAB_TALOS_KUBESPAN_REFRESH', 30.0)


def keepalive_seconds():
    return int(_env_float('LAB_TALOS_KUBESPAN_KEEPALIVE', 25))


def cluster_prefix(cluster_id):
    digest = hashlib.sha256(cluster_id.encode()).digest()
    return ipaddress.ip_network((b'\xfd' + digest[:7] + bytes(8), 64))


def node_address(cluster_id, public_key):
    prefix = cluster_prefix(cluster_id)
    host = hashlib.sha256(public_key.encode()).digest()[:8]
    return ipaddress.ip_address(prefix.network_address.packed[:8] + host)


def registry_dir(lab_dir, cluster_id):
    return os.path.join(lab_dir, 'discovery', hashlib.sha256(cluster_id.encode()).hexdigest()[:16])


def settings(node):
    """{'mtu': N} when the running config enables KubeSpan, else None."""
    if node.maintenance or not node.docs or not node.cluster_id:
        return None
    section = ((node.v1alpha1.get('machine') or {}).get('network') or {}).get('kubespan') or {}
    document = next((d for d in node.docs if d.get('kind') == 'KubeSpanConfig'), None)
    if document is not None:
        section = document
    discovery = (node.v1alpha1.get('cluster') or {}).get('discovery') or {}
    if not section.get('enabled') or discovery.get('enabled') is False:
        return None
    return {'mtu': int(section.get('mtu') or DEFAULT_MTU)}


def state_of(since_handshake, since_change, last_used):
    """Talos' peer state (adapters/kubespan/peer_status.go); ages in seconds, None = never.

    The handshake time comes from WireGuard's control socket in nanoseconds (``read_device``), as Talos reads
    it: ``wg show latest-handshakes`` has whole seconds only, and a handshake in the second of an endpoint
    change would then read as older than the change (the peer turns ``down`` 15 s later and stays so until the
    next handshake, up to 2 minutes away, though the tunnel works)."""
    never = float('inf')
    handshake = never if since_handshake is None else since_handshake
    change = never if since_change is None else since_change
    if change < ENDPOINT_CONNECTION_TIMEOUT:
        state = 'up' if handshake < change else 'unknown'
    elif change < PEER_DOWN_INTERVAL:
        state = 'up' if handshake < change else 'down'
    else:
        state = 'up' if handshake < PEER_DOWN_INTERVAL else 'down'
    if state == 'down' and last_used is None:
        state = 'unknown'
    return state


def next_endpoint(endpoints, last_used, current):
    """Talos' PickNewEndpoint: the endpoint after the last used one; a single endpoint in use is kept."""
    if not endpoints:
        return None
    if last_used is None:
        return endpoints[0]
    index = endpoints.index(last_used) if last_used in endpoints else -1
    if len(endpoints) == 1 and index == 0 and current == last_used:
        return None
    return endpoints[(index + 1) % len(endpoints)]


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _run(*args, data=None, check=True):
    proc = subprocess.run(list(args), input=data, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('`%s` failed: %s' % (' '.join(args[:4]), proc.stderr.decode(errors='replace').strip()))
    return proc.stdout.decode()


def parse_device(text):
    """The peers of a WireGuard UAPI ``get=1`` answer: {base64 public key: {endpoint, handshake, rx, tx}}.

    ``handshake`` is the last handshake as a float epoch (None: never). The device's private key and the
    peers' preshared keys in the answer are skipped, never kept."""
    peers, peer = {}, None
    for line in text.splitlines():
        key, _sep, value = line.partition('=')
        if key == 'public_key':
            peer = peers[base64.b64encode(bytes.fromhex(value)).decode()] = {
                'endpoint': None, 'handshake': None, 'rx': 0, 'tx': 0, '_sec': 0, '_nsec': 0}
        elif peer is None:
            continue
        elif key == 'endpoint':
            peer['endpoint'] = value
        elif key == 'last_handshake_time_sec':
            peer['_sec'] = int(value)
        elif key == 'last_handshake_time_nsec':
            peer['_nsec'] = int(value)
        elif key in ('rx_bytes', 'tx_bytes'):
            peer[key[:2]] = int(value)
    for peer in peers.values():
        sec, nsec = peer.pop('_sec'), peer.pop('_nsec')
        peer['handshake'] = sec + nsec / 1e9 if sec else None
    return peers


def read_device(socket_path, timeout=5.0):
    """Ask wireguard-go's control socket for the device state (what ``wg show`` reads, at full resolution)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(b'get=1\n\n')
        chunks = []
        while not b''.join(chunks[-2:]).endswith(b'\n\n'):
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    text = b''.join(chunks).decode()
    if 'errno=0' not in text:
        raise RuntimeError('wireguard-go answered get=1 with an error')
    return parse_device(text)


class Peer:
    def __init__(self, entry):
        self.public_key = entry['publicKey']
        self.update(entry)
        self.last_used = None
        self.last_change = None  # epoch seconds
        self.status = None

    def update(self, entry):
        self.label, self.address, self.endpoints = entry['name'], entry['address'], list(entry['endpoints'])


class Manager:
    """The node's KubeSpan: ``run()`` is a task of the node process; ``statuses``/``specs`` feed the COSI resources."""

    def __init__(self, node):
        self.node = node
        self.dir = os.path.join(node.dir, 'kubespan')
        self.proc = None
        self.mtu = None
        self.public_key = None
        self.address = None
        self.peers = {}
        self.statuses = []
        self.published = None

    # ------------------------------------------------------------------ life cycle

    async def run(self):
        """Check the config and discovery every half second; read WireGuard's state every ``refresh`` seconds."""
        due = 0.0
        while True:
            try:
                now = time.monotonic()
                if await asyncio.to_thread(self.tick, now >= due):
                    due = now + refresh_seconds()
            except Exception:  # pylint: disable=broad-except
                LOG.exception('kubespan: refresh failed')
                await asyncio.sleep(refresh_seconds())  # no log line every half second while it keeps failing
            await asyncio.sleep(0.5)

    def tick(self, refresh=True):
        """Bring the interface up or down as the config says, learn peers; True when the statuses were refreshed."""
        wanted = settings(self.node) if self.node.stage == 'running' else None
        if wanted is None:
            if self.proc is not None or self.published:
                self.stop(unpublish=self.node.stage == 'running')
            return False
        if self.proc is None or self.proc.poll() is not None:
            self._start()
            refresh = True
        if self.mtu != wanted['mtu']:
            _run('ip', 'link', 'set', INTERFACE, 'mtu', str(wanted['mtu']), 'up')
            self.mtu = wanted['mtu']
        self._publish()
        if self._sync_peers() or refresh:
            self._refresh()
            return True
        return False

    def stop(self, unpublish=False):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        _run('ip', 'link', 'delete', INTERFACE, check=False)
        self.mtu, self.peers, self.statuses = None, {}, []
        if unpublish and self.published:
            try:
                os.remove(self.published)
            except OSError:
                pass
            self.published = None

    def _private_run_dir(self):
        """A tmpfs on /run/wireguard in the node's mount namespace (never in the root one)."""
        root = self.node.cfg.get('root_mount_ns')
        if not root or os.stat('/proc/self/ns/mnt').st_ino == root:
            raise RuntimeError('the node runs in the root mount namespace: refusing to mount over %s' % RUN_DIR)
        with open('/proc/self/mountinfo', encoding='utf-8') as handle:
            if any(line.split()[4] == RUN_DIR for line in handle):
                return
        os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)
        _run('mount', '-t', 'tmpfs', '-o', 'mode=0700,size=1m', 'tmpfs', RUN_DIR)

    def _key(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        path = os.path.join(self.dir, 'private.key')
        if not os.path.exists(path):
            key = _run('wg', 'genkey').strip().encode()
            fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'wb') as handle:
                handle.write(key + b'\n')
            os.replace(path + '.tmp', path)
        with open(path, 'rb') as handle:
            self.public_key = _run('wg', 'pubkey', data=handle.read()).strip()
        return path

    def _start(self):
        self._private_run_dir()
        key_path = self._key()
        _run('ip', 'link', 'delete', INTERFACE, check=False)
        log = os.open(os.path.join(self.dir, 'wireguard-go.log'), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            # pylint: disable-next=consider-using-with,subprocess-popen-preexec-fn
            self.proc = subprocess.Popen(['wireguard-go', INTERFACE], env=dict(os.environ, WG_PROCESS_FOREGROUND='1'),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        finally:
            os.close(log)
        socket_path = os.path.join(RUN_DIR, INTERFACE + '.sock')
        deadline = time.monotonic() + 5
        while not os.path.exists(socket_path):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError('wireguard-go did not start (see %s)' % os.path.join(self.dir, 'wireguard-go.log'))
            time.sleep(0.02)
        self.address = str(node_address(self.node.cluster_id, self.public_key))
        _run('wg', 'set', INTERFACE, 'private-key', key_path, 'listen-port', str(PORT))
        _run('ip', '-6', 'address', 'add', '%s/128' % self.address, 'dev', INTERFACE)
        self.mtu = None
        self.peers = {}
        LOG.info('kubespan: interface %s up, address %s, public key %s', INTERFACE, self.address, self.public_key)

    # ------------------------------------------------------------------ discovery

    def _publish(self):
        if self.node.stage != 'running':
            return  # a node being reset has left the registry (recovery.py) and must not come back in it
        directory = registry_dir(self.node.cfg['lab_dir'], self.node.cluster_id)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        path = os.path.join(directory, '%s.json' % self.node.name)
        entry = {'name': self.node.name, 'publicKey': self.public_key, 'address': self.address,
                 'endpoints': ['%s:%d' % (self.node.address, PORT)]}
        data = json.dumps(entry, sort_keys=True)
        if self.published != path or not os.path.exists(path):
            with open(path + '.tmp', 'w', encoding='utf-8') as handle:
                handle.write(data)
            os.chmod(path + '.tmp', 0o644)
            os.replace(path + '.tmp', path)
            self.published = path

    def registry(self):
        directory = registry_dir(self.node.cfg['lab_dir'], self.node.cluster_id)
        result = {}
        for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else ():
            if not name.endswith('.json'):
                continue
            try:
                with open(os.path.join(directory, name), encoding='utf-8') as handle:
                    entry = json.load(handle)
            except (OSError, ValueError):
                continue
            if entry.get('publicKey') and entry.get('name') != self.node.name:
                result[entry['publicKey']] = entry
        return result

    def _sync_peers(self):
        """Follow the registry; True when a peer was added (with its first endpoint) or removed.

        A removed peer's status goes at once, as in Talos (its PeerStatus follows the PeerSpec), not at the next
        periodic refresh.
        """
        entries = self.registry()
        changed = False
        for key in set(self.peers) - set(entries):
            peer = self.peers.pop(key)
            changed = True
            _run('wg', 'set', INTERFACE, 'peer', key, 'remove', check=False)
            _run('ip', '-6', 'route', 'delete', '%s/128' % peer.address, 'dev', INTERFACE, check=False)
        for key, entry in entries.items():
            if key in self.peers:
                self.peers[key].update(entry)
                continue
            peer = self.peers[key] = Peer(entry)
            changed = True
            command = ['wg', 'set', INTERFACE, 'peer', key, 'allowed-ips', '%s/128' % peer.address,
                       'persistent-keepalive', str(keepalive_seconds())]
            first = next_endpoint(peer.endpoints, None, None)
            if first is not None:
                # The peer comes with its endpoint in one call, as in Talos: a handshake the peer starts
                # (it may be dialling us already) cannot complete before the change it is compared with.
                peer.last_used, peer.last_change = first, time.time()
                command += ['endpoint', first]
            _run(*command)
            _run('ip', '-6', 'route', 'replace', '%s/128' % peer.address, 'dev', INTERFACE)
        return changed

    # ------------------------------------------------------------------ status

    def _refresh(self):
        device = read_device(os.path.join(RUN_DIR, INTERFACE + '.sock'))
        now = time.time()
        statuses = []
        for key, peer in sorted(self.peers.items(), key=lambda item: item[1].label):
            seen = device.get(key) or {}
            current, handshake = seen.get('endpoint'), seen.get('handshake')
            state = state_of(None if handshake is None else now - handshake,
                             None if peer.last_change is None else now - peer.last_change, peer.last_used)
            if state == 'down' or peer.last_used is None:
                chosen = next_endpoint(peer.endpoints, peer.last_used, current)
                if chosen is not None:
                    _run('wg', 'set', INTERFACE, 'peer', key, 'endpoint', chosen)
                    if peer.last_used is not None:
                        LOG.info('kubespan: peer %s is down, endpoint %s -> %s', peer.label, peer.last_used, chosen)
                    peer.last_used, peer.last_change, state, current = chosen, now, 'unknown', chosen
            rx, tx = seen.get('rx', 0), seen.get('tx', 0)
            statuses.append({'id': key, 'endpoint': current, 'label': peer.label, 'state': state, 'receiveBytes': rx,
                             'transmitBytes': tx, 'lastHandshakeTime': handshake, 'lastUsedEndpoint': peer.last_used,
                             'lastEndpointChange': peer.last_change, 'address': peer.address, 'endpoints': list(peer.endpoints)})
        self.statuses = statuses


# ----------------------------------------------------------------------------- COSI producers

def _ip_port(pb, text):
    host, port = text.rsplit(':', 1)
    return pb.NetIPPort(ip=ipaddress.ip_address(host.strip('[]')).packed, port=int(port))


def _stamp(message, epoch):
    message.FromDatetime(datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc))


def _iso(epoch):
    if epoch is None:
        return '0001-01-01T00:00:00Z'
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat().replace('+00:00', 'Z')


def peer_statuses(node, common_pb2, kubespan_pb2):
    manager = getattr(node, 'kubespan', None)
    result = []
    for status in (manager.statuses if manager else ()):
        spec = kubespan_pb2.PeerStatusSpec(label=status['label'], state=STATES.index(status['state']),
                                           receive_bytes=status['receiveBytes'], transmit_bytes=status['transmitBytes'])
        if status['endpoint']:
            spec.endpoint.CopyFrom(_ip_port(common_pb2, status['endpoint']))
        if status['lastUsedEndpoint']:
            spec.last_used_endpoint.CopyFrom(_ip_port(common_pb2, status['lastUsedEndpoint']))
        if status['lastHandshakeTime']:
            _stamp(spec.last_handshake_time, status['lastHandshakeTime'])
        if status['lastEndpointChange']:
            _stamp(spec.last_endpoint_change, status['lastEndpointChange'])
        text = {'endpoint': status['endpoint'] or '', 'label': status['label'], 'state': status['state'],
                'receiveBytes': status['receiveBytes'], 'transmitBytes': status['transmitBytes'],
                'lastHandshakeTime': _iso(status['lastHandshakeTime']), 'lastUsedEndpoint': status['lastUsedEndpoint'] or '',
                'lastEndpointChange': _iso(status['lastEndpointChange'])}
        result.append((status['id'], spec, text))
    return result


def peer_specs(node, common_pb2, kubespan_pb2):
    manager = getattr(node, 'kubespan', None)
    result = []
    for key, peer in sorted(dict(manager.peers if manager else {}).items()):  # a copy: the refresh thread changes it
        address = ipaddress.ip_address(peer.address)
        spec = kubespan_pb2.PeerSpecSpec(address=common_pb2.NetIP(ip=address.packed), label=peer.label)
        spec.allowed_ips.add(ip=address.packed, prefix_length=128)
        for endpoint in peer.endpoints:
            spec.endpoints.append(_ip_port(common_pb2, endpoint))
        text = {'address': peer.address, 'allowedIPs': ['%s/128' % peer.address], 'endpoints': list(peer.endpoints), 'label': peer.label}
        result.append((key, spec, text))
    return result
