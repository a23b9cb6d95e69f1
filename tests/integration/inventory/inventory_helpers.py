"""Plain helpers of the hybrid inventory lab tests (fixtures live in conftest.py)."""
import contextlib
import json
import os
import socket

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
# Credentials reach the plugin only the way each test says, never from the caller's shell.
CREDENTIAL_VARS = ('HCLOUD_TOKEN', 'HCLOUD_ENDPOINT', 'PROXMOX_URL', 'PROXMOX_USER', 'PROXMOX_TOKEN_ID',
                   'PROXMOX_TOKEN_SECRET', 'PROXMOX_CA_FILE', 'PROXMOX_VALIDATE_CERTS')
SEED = {
    'vps-0': ('controlplane', 'vps'), 'vps-1': ('controlplane', 'vps'),
    'home-cp-0': ('controlplane', 'home'), 'home-w-0': ('worker', 'home'), 'home-w-1': ('worker', 'home'),
}


def unwrap(value):
    """``ansible-inventory --list`` writes untrusted strings as ``{"__ansible_unsafe": ...}``."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, unwrap(v)) for k, v in value.items())
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class Listing(object):
    def __init__(self, proc):
        self.rc, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        self.data = {}
        if proc.returncode == 0:
            text = proc.stdout
            self.data = unwrap(json.loads(text[text.index('{'):] if not text.startswith('{') else text))

    @property
    def hostvars(self):
        return self.data.get('_meta', {}).get('hostvars', {})

    def hosts(self, group):
        """Hosts of ``group`` including those of its children."""
        entry = self.data.get(group, {})
        found = set(entry.get('hosts', []))
        for child in entry.get('children', []):
            found |= self.hosts(child)
        return found


def hcloud_env(lab_env, readonly=True):
    return {'HCLOUD_ENDPOINT': lab_env['HCLOUD_ENDPOINT'],
            'HCLOUD_TOKEN': lab_env['HCLOUD_TOKEN_READONLY' if readonly else 'HCLOUD_TOKEN']}


def pve_env(lab_env, auditor=True, url=None):
    prefix = 'PROXMOX_AUDITOR_' if auditor else 'PROXMOX_'
    return {'PROXMOX_URL': url or lab_env['PROXMOX_URL'], 'PROXMOX_USER': lab_env[prefix + 'USER'],
            'PROXMOX_TOKEN_ID': lab_env[prefix + 'TOKEN_ID'], 'PROXMOX_TOKEN_SECRET': lab_env[prefix + 'TOKEN_SECRET'],
            'PROXMOX_CA_FILE': lab_env['PROXMOX_CA_FILE']}


def free_port():
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]
