"""Delay between the sites in user space (``python -m lab fault netem --delay MS``).

Kernels without ``sch_netem`` (this one, and many containers) cannot delay packets with ``tc``, and
without ``nfnetlink_queue`` nftables cannot hand them to a program either. TPROXY works, though: the
fault table's prerouting chain diverts the KubeSpan packets (UDP 51820) that cross from one site to
the other to this relay, which holds each one for the delay and then sends it on to its original
destination *from its original source* (``IP_TRANSPARENT`` sockets bound to the sender's address), so
the nodes see the same peers and endpoints as before, only later.

TPROXY hands a packet to a socket in the IP prerouting hook. Where ``br_netfilter`` is loaded with
``bridge-nf-call-iptables = 1`` (this machine), packets arriving on a bridge run that hook in the
bridge's path, and the IP layer drops the socket again before delivery, so the relay never sees them:
while a delay is in place the relay turns that setting off in the root namespace, and ``heal`` puts
the old value back. The lab's other faults are rules on routed packets and do not need it.

Only UDP 51820 between the sites is delayed: that is what KubeSpan carries. The relay runs in the root
namespace, one per lab (``<lab dir>/talos/delay.pid``), and ``heal``/``down`` stop it with the rest of
the fault table. Delay and ``nat`` do not combine: the relayed packets leave the root namespace as its
own, past the forward-hook masquerade.
"""
import argparse
import heapq
import ipaddress
import os
import selectors
import socket
import struct
import subprocess
import sys
import time
import zlib

from .. import process, state
from . import launcher

KUBESPAN_PORT = 51820
IP_TRANSPARENT = 19  # linux/in.h
IP_RECVORIGDSTADDR = 20  # also the ancillary message type IP_ORIGDSTADDR
STATE_FILE = 'delay.json'
PID_FILE = 'delay.pid'
STOP_TIMEOUT = 2
MAX_DELAY_MS = 60000
BRIDGE_NF_CALL_IPTABLES = '/proc/sys/net/bridge/bridge-nf-call-iptables'


class DelayError(Exception):
    pass


def routing_id(prefix):
    """Firewall mark and routing table of a lab's relay: one per namespace prefix, so labs do not clash."""
    return 20000 + zlib.crc32(prefix.encode()) % 20000


def _ip(*args, check=True):
    proc = subprocess.run(['ip'] + list(args), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise DelayError('ip %s failed: %s' % (' '.join(args), proc.stderr.strip()))
    return proc


def _bridge_nf_call_iptables(value=None):
    """The root namespace's bridge-nf-call-iptables ('0' or '1'; None without br_netfilter); set it when given."""
    try:
        if value is not None:
            with open(BRIDGE_NF_CALL_IPTABLES, 'w', encoding='ascii') as handle:
                handle.write(value)
        with open(BRIDGE_NF_CALL_IPTABLES, encoding='ascii') as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DelayError('cannot set %s: %s' % (BRIDGE_NF_CALL_IPTABLES, exc.strerror)) from None


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(('0.0.0.0', 0))
        return sock.getsockname()[1]


def tproxy_rules(record, port, mark):
    """The prerouting rules (for the fault table) that divert site-to-site KubeSpan packets to the relay."""
    by_site = {}
    for node in record['nodes']:
        by_site.setdefault(node['site'], []).append(node['address'])
    rules = []
    for source, target in (('vps', 'home'), ('home', 'vps')):
        if by_site.get(target):
            rules.append('prerouting iifname "%s%s" ip daddr { %s } udp dport %d meta mark set %d tproxy ip to :%d accept'
                         % (record['prefix'], source, ', '.join(by_site[target]), KUBESPAN_PORT, mark, port))
    return rules


def start(record, milliseconds, state_dir=None):
    """Start the relay (or restart it with a new delay) and its policy routing; return (port, mark)."""
    if not 0 < milliseconds <= MAX_DELAY_MS:
        raise DelayError('the delay must be more than 0 and at most %d milliseconds' % MAX_DELAY_MS)
    stop(record, state_dir)
    mark = routing_id(record['prefix'])
    port = _free_udp_port()
    bridge_nf = _bridge_nf_call_iptables()
    if bridge_nf == '1':
        _bridge_nf_call_iptables('0')
    # Marked packets are delivered locally, to the relay's socket that TPROXY picked.
    _ip('rule', 'add', 'fwmark', str(mark), 'lookup', str(mark))
    _ip('route', 'replace', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', str(mark))
    directory = launcher.talos_dir(state_dir)
    log = os.open(os.path.join(directory, 'delay.log'), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen([sys.executable, '-m', 'lab.talos.delay', '--port', str(port), '--delay', str(milliseconds)],
                                cwd=launcher.ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        os.close(log)
    state.write_private(PID_FILE, '%d\n' % proc.pid, state_dir=directory)
    state.write_json(STATE_FILE, dict(pid=proc.pid, port=port, mark=mark, delay_ms=milliseconds, bridge_nf_call_iptables=bridge_nf),
                     state_dir=directory)
    _wait_listening(proc, port)
    return port, mark


def _wait_listening(proc, port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DelayError('the delay relay exited with status %s (see delay.log in the lab folder)' % proc.returncode)
        listening = subprocess.run(['ss', '-Hulnp', 'sport = :%d' % port], capture_output=True, text=True, check=False).stdout
        if 'pid=%d,' % proc.pid in listening:
            return
        time.sleep(0.05)
    raise DelayError('the delay relay did not listen on UDP port %d within %d s' % (port, timeout))


def stop(record, state_dir=None):
    """Stop the relay and remove its policy routing; True when there was one."""
    directory = launcher.talos_dir(state_dir)
    found = state.read_json(STATE_FILE, state_dir=directory)
    mark = routing_id(record['prefix'])
    while _ip('rule', 'del', 'fwmark', str(mark), 'lookup', str(mark), check=False).returncode == 0:
        pass
    _ip('route', 'flush', 'table', str(mark), check=False)
    if not found:
        return False
    if not process.gone(found['pid']):
        process.stop_group(found['pid'], STOP_TIMEOUT)
    if found.get('bridge_nf_call_iptables') == '1':
        _bridge_nf_call_iptables('1')
    for name in (STATE_FILE, PID_FILE):
        try:
            os.remove(os.path.join(directory, name))
        except OSError:
            pass
    return True


# The relay itself ---------------------------------------------------------------------------------


def _transparent_socket(address):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    sock.setsockopt(socket.SOL_IP, IP_RECVORIGDSTADDR, 1)
    sock.bind(address)
    sock.setblocking(False)
    return sock


def original_destination(ancillary):
    """(address, port) from the IP_ORIGDSTADDR message (a sockaddr_in), None without one."""
    for level, kind, data in ancillary:
        if level == socket.SOL_IP and kind == IP_RECVORIGDSTADDR and len(data) >= 8:
            port, = struct.unpack('!H', data[2:4])
            return str(ipaddress.IPv4Address(data[4:8])), port
    return None


class Relay:
    """Holds every diverted packet for ``delay`` seconds, then sends it from its source to its destination."""

    def __init__(self, port, delay):
        self.delay = delay
        self.selector = selectors.DefaultSelector()
        self.senders = {}
        self.queue = []
        self.sequence = 0
        self._watch(_transparent_socket(('0.0.0.0', port)))

    def _watch(self, sock):
        self.selector.register(sock, selectors.EVENT_READ)
        return sock

    def _sender(self, source):
        # TPROXY hands a packet to an established-looking socket first, so packets addressed to a
        # sender's address arrive on it: every socket is read the same way.
        if source not in self.senders:
            self.senders[source] = self._watch(_transparent_socket(source))
        return self.senders[source]

    def _receive(self, sock, now):
        while True:
            try:
                data, ancillary, _flags, source = sock.recvmsg(65535, socket.CMSG_SPACE(16))
            except BlockingIOError:
                return
            target = original_destination(ancillary)
            if target is not None:
                self.sequence += 1
                heapq.heappush(self.queue, (now + self.delay, self.sequence, source, target, data))

    def _send_due(self, now):
        while self.queue and self.queue[0][0] <= now:
            _due, _sequence, source, target, data = heapq.heappop(self.queue)
            try:
                self._sender(source).sendto(data, target)
            except OSError as exc:  # a node that went away: its packets are lost, as on a real link
                print('delay: %s -> %s: %s' % (source, target, exc), flush=True)

    def run(self):
        while True:
            timeout = max(0.0, self.queue[0][0] - time.monotonic()) if self.queue else None
            for key, _events in self.selector.select(timeout):
                self._receive(key.fileobj, time.monotonic())
            self._send_due(time.monotonic())


def main(argv=None):
    parser = argparse.ArgumentParser(description='Delay the KubeSpan packets between the lab sites (TPROXY relay).')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--delay', type=float, required=True, help='milliseconds')
    args = parser.parse_args(argv)
    print('delay: %g ms on UDP port %d' % (args.delay, args.port), flush=True)
    Relay(args.port, args.delay / 1000.0).run()


if __name__ == '__main__':
    main()
