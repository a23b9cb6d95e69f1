"""A Proxmox VE stand-in of its own (``python -m lab.pve``) on a free loopback port, with a fresh CA, as lab/cli.py
starts the lab's: for suites that change PVE access objects and must not share them with other suites."""
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, ROOT)

from lab import pki, process  # noqa: E402  pylint: disable=wrong-import-position

HOST = '127.0.0.1'


def _free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class PveStandIn:
    """``url``, ``ca_file``, ``root_token_id`` and ``root_token_secret`` of a running stand-in; ``env()`` as .lab/env."""

    def __init__(self, standalone=False):
        self.directory = tempfile.mkdtemp(prefix='pve-stand-in-')
        os.chmod(self.directory, 0o700)
        ca_crt, ca_key = pki.make_ca(self.directory)
        cert, key = pki.issue(self.directory, 'pve', (HOST, 'localhost'), ca_crt, ca_key)
        self.ca_file = ca_crt
        self.port = _free_port()
        self.root_token_id, self.root_token_secret = 'root@pam!lab', str(uuid.uuid4())
        config = {'host': HOST, 'port': self.port, 'password': secrets.token_urlsafe(18), 'auditor': 'auditor@pve',
                  'tokens': {self.root_token_id: self.root_token_secret, 'auditor@pve!inventory': str(uuid.uuid4())},
                  'cert': cert, 'key': key, 'empty': True, 'standalone': standalone}
        path = os.path.join(self.directory, 'pve.json')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(config, handle)
        self.log = os.path.join(self.directory, 'pve.log')
        with open(self.log, 'ab') as log:
            self.proc = subprocess.Popen([sys.executable, '-m', 'lab.pve', path], cwd=ROOT, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = 'https://%s:%d' % (HOST, self.port)
        self._wait_ready()

    def _wait_ready(self):
        context = ssl.create_default_context(cafile=self.ca_file)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log, encoding='utf-8', errors='replace') as handle:
                    raise RuntimeError('the PVE stand-in exited while starting:\n' + handle.read()[-2000:])
            try:
                request = urllib.request.Request(self.url + '/api2/json/version', headers=self.headers())
                with urllib.request.urlopen(request, timeout=2, context=context) as response:
                    response.read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError('the PVE stand-in did not answer within 30 s')

    def headers(self, token_id=None, secret=None):
        return {'Authorization': 'PVEAPIToken=%s=%s' % (token_id or self.root_token_id, secret or self.root_token_secret)}

    def env(self):
        return {'PROXMOX_URL': self.url, 'PROXMOX_HOST': HOST, 'PROXMOX_PORT': str(self.port), 'PROXMOX_USER': 'root@pam',
                'PROXMOX_TOKEN_ID': self.root_token_id.partition('!')[2], 'PROXMOX_TOKEN_SECRET': self.root_token_secret,
                'PROXMOX_CA_FILE': self.ca_file}

    def stop(self):
        process.stop_group(self.proc.pid, 5)
        shutil.rmtree(self.directory, ignore_errors=True)
