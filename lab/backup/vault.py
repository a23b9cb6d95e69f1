"""A Vault stand-in for the Raft snapshot endpoint, over TLS from the lab's backup CA.

``GET /v1/sys/storage/raft/snapshot`` with ``X-Vault-Token`` answers a snapshot in Vault's format
(hashicorp/raft-snapshot: a gzip'd tar of ``meta.json``, ``state.bin`` and ``SHA256SUMS``); a wrong or
missing token answers 403 ``{"errors":["permission denied"]}`` as Vault does. ``GET /v1/sys/health``
answers as an unsealed active node. ``POST /__lab__/snapshot?corrupt=1`` (0 to undo) makes later
snapshots fail their own sums, to test that a backup refuses them.
"""
import gzip
import hashlib
import io
import json
import os
import ssl
import tarfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SNAPSHOT_PATH = '/v1/sys/storage/raft/snapshot'


def make_snapshot(state_size, corrupt=False):
    """Bytes of a Raft snapshot archive with ``state_size`` bytes of (random) FSM state."""
    state = os.urandom(state_size)
    meta = json.dumps({'Version': 1, 'ID': '2-%d-%d' % (int(time.time()), state_size), 'Index': 42, 'Term': 2,
                       'Peers': 'ka8xMjcuMC4wLjE6ODIwMQ==', 'Configuration': {'Servers': [
                           {'Suffrage': 0, 'ID': 'vault-0', 'Address': 'vault-0.vault-internal:8201'}]},
                       'ConfigurationIndex': 1, 'Size': state_size}).encode() + b'\n'
    sums = ''.join('%s  %s\n' % (hashlib.sha256(data).hexdigest(), name) for name, data in (('meta.json', meta), ('state.bin', state)))
    if corrupt:
        state = bytes([state[0] ^ 0xFF]) + state[1:]
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode='wb', mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode='w') as archive:
            for name, data in (('meta.json', meta), ('state.bin', state), ('SHA256SUMS', sums.encode())):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class VaultStandIn:
    def __init__(self, host, port, token, cert, key, state_size=256 * 1024):
        self.token, self.state_size, self.corrupt = token, state_size, False
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            server_version = 'lab-vault'

            def log_message(self, fmt, *args):  # pylint: disable=arguments-differ
                print('vault %s' % (fmt % args), flush=True)

            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
                path = urllib.parse.urlsplit(self.path).path
                if path == '/v1/sys/health':
                    return self._json(200, {'initialized': True, 'sealed': False, 'standby': False})
                if path != SNAPSHOT_PATH:
                    return self._json(404, {'errors': []})
                if self.headers.get('X-Vault-Token') != stand_in.token:
                    return self._json(403, {'errors': ['permission denied']})
                data = make_snapshot(stand_in.state_size, stand_in.corrupt)
                self.send_response(200)
                self.send_header('Content-Type', 'application/octet-stream')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return None

            def do_POST(self):  # noqa: N802  pylint: disable=invalid-name
                url = urllib.parse.urlsplit(self.path)
                if url.path != '/__lab__/snapshot':
                    return self._json(404, {'errors': []})
                stand_in.corrupt = urllib.parse.parse_qs(url.query).get('corrupt') == ['1']
                return self._json(200, {'corrupt': stand_in.corrupt})

        self.server = ThreadingHTTPServer((host, port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
