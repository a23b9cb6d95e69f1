"""A counting, fault-injecting TLS reverse proxy in front of the lab's Proxmox stand-in.

fakepve keeps its request log inside the lab's process, so tests and the benchmark put this proxy
between a client and ``PROXMOX_URL`` to count the real HTTP requests each client makes (per
``METHOD /path``) and to answer some of them with an injected status. It serves the lab's own PVE
certificate (issued for the lab's loopback address), so clients verify it with ``PROXMOX_CA_FILE``
exactly as they verify the stand-in.
"""
import collections
import http.client
import json
import os
import re
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_HEADERS = {'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade'}
NUMBERS = re.compile(r'/\d+(?=/|$)')


class CountingProxy(object):
    """``with CountingProxy(upstream_url, ca_file, cert, key) as proxy: proxy.url, proxy.total() ...``"""

    def __init__(self, upstream, ca_file, certfile, keyfile, host='127.0.0.1'):
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port or 8006)
        self.context_out = ssl.create_default_context(cafile=ca_file)
        self.counts = collections.Counter()
        self.faults = []  # [{'status': 429, 'count': n or None, 'path': substring or None}]
        self.lock = threading.Lock()
        self.local = threading.local()
        handler = type('Handler', (_Handler,), {'proxy': self})
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.server.daemon_threads = True
        context_in = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context_in.load_cert_chain(certfile, keyfile)
        self.server.socket = context_in.wrap_socket(self.server.socket, server_side=True)
        self.url = 'https://%s:%d' % (host, self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @classmethod
    def for_lab(cls, env):
        """In front of the lab's ``PROXMOX_URL``, serving the lab's PVE certificate from beside its CA."""
        state_dir = os.path.dirname(env['PROXMOX_CA_FILE'])
        return cls(env['PROXMOX_URL'], env['PROXMOX_CA_FILE'], os.path.join(state_dir, 'pve.crt'),
                   os.path.join(state_dir, 'pve.key'), host=urllib.parse.urlsplit(env['PROXMOX_URL']).hostname)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -------------------------------------------------------------- counters and faults

    def reset(self):
        with self.lock:
            counts = dict(self.counts)
            self.counts.clear()
        return counts

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def by_endpoint(self):
        """Counts per ``METHOD /path`` with numbers folded to ``N`` (``GET /nodes/pve1/qemu/N/config``)."""
        with self.lock:
            folded = collections.Counter()
            for key, value in self.counts.items():
                folded[NUMBERS.sub('/N', key)] += value
            return dict(folded)

    def fault(self, status, count=None, path=None):
        with self.lock:
            self.faults.append({'status': status, 'count': count, 'path': path})

    def clear_faults(self):
        with self.lock:
            del self.faults[:]

    def _take_fault(self, path):
        with self.lock:
            for fault in self.faults:
                if fault['path'] and fault['path'] not in path:
                    continue
                if fault['count'] is not None:
                    fault['count'] -= 1
                    if fault['count'] <= 0:
                        self.faults.remove(fault)
                return fault['status']
        return None

    def _upstream(self):
        conn = getattr(self.local, 'conn', None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.upstream[0], self.upstream[1], context=self.context_out, timeout=60)
            self.local.conn = conn
        return conn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    proxy = None

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: the counters say what was asked."""

    def _forward(self):
        proxy = self.proxy
        path_only = self.path.split('?', 1)[0]
        with proxy.lock:
            proxy.counts['%s %s' % (self.command, path_only)] += 1
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else None
        status = proxy._take_fault(path_only)
        if status is not None:
            payload = json.dumps({'data': None, 'message': 'injected by the counting proxy'}).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in HOP_HEADERS and k.lower() != 'host')
        for attempt in (0, 1):
            conn = proxy._upstream()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                proxy.local.conn = None
                if attempt:
                    raise
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_HEADERS:
                self.send_header(key, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _forward
