"""Test helpers for the Talos node simulator: a lab of the tests' own, test-time PKI and machine configs.

The lab runs beside the main one (own state directory, namespace prefix ``lts-`` and networks remapped
into 198.18.0.0/15), so tests never touch ``.lab/``. Configs are Talos' own example configs (committed copies in
base_configs/, checked against the oracle fixtures by tests/unit/test_oracle_copies.py) with every secret replaced by
one generated here, at test time.
"""
import base64
import copy
import datetime
import os
import subprocess
import sys
import tempfile

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import TalosClient
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.credentials import Credentials
from ansible_collections.hybridops.talos.plugins.module_utils._retry import NO_RETRY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCHEMAS = os.path.join(ROOT, 'talos_schemas')  # the committed copies of Talos' schemas
BASE_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'base_configs')
PREFIX = 'lts-'
REMAP = '203.0.113.0/24=198.18.1.0/24,172.31.1.1/32=198.18.1.254/32,10.10.0.0/24=198.18.2.0/24,10.11.0.0/16=198.19.0.0/16'


def talos_command(state_dir, *args, prefix=PREFIX, remap=REMAP, timeout=120):
    """Run ``python -m lab.talos ARGS`` for the lab in ``state_dir`` (its own namespace prefix and networks)."""
    env = dict(os.environ, LAB_STATE_DIR=state_dir, LAB_NETNS_PREFIX=prefix, LAB_TALOS_REMAP=remap)
    return subprocess.run([sys.executable, '-m', 'lab.talos'] + list(args), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _b64(data):
    return base64.b64encode(data).decode('ascii')


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


class CA:
    def __init__(self, kind='ed25519', organization='talos'):
        self.key = ed25519.Ed25519PrivateKey.generate() if kind == 'ed25519' else ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number()).not_valid_before(_now() - datetime.timedelta(hours=1))
                     .not_valid_after(_now() + datetime.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, None if kind == 'ed25519' else hashes.SHA256()))
        self.kind = kind

    @property
    def crt_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self):
        pem = _key_pem(self.key)
        # Written the way siderolabs/crypto writes Ed25519 keys, so the simulator reads what Talos would get.
        return pem.replace(b'PRIVATE KEY', b'ED25519 PRIVATE KEY') if self.kind == 'ed25519' else pem

    def client(self, roles, usages=(ExtendedKeyUsageOID.CLIENT_AUTH,)):
        """(cert PEM, key PEM) of a client certificate with ``roles`` as Organization values."""
        key = ed25519.Ed25519PrivateKey.generate()
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, role) for role in roles])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(_now() - datetime.timedelta(hours=1))
                .not_valid_after(_now() + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
                .sign(self.key, None if self.kind == 'ed25519' else hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


class Cluster:
    """A cluster's secrets (generated now) and the configs and clients made from them."""

    def __init__(self, endpoint='https://198.18.1.1:6443'):
        self.os_ca = CA('ed25519', 'talos')
        self.k8s_ca = CA('ecdsa', 'kubernetes')
        self.id = base64.urlsafe_b64encode(os.urandom(32)).decode('ascii')
        self.secret = _b64(os.urandom(32))
        self.endpoint = endpoint

    def config(self, role, extra_sans=(), **machine_changes):
        with open(os.path.join(BASE_CONFIGS, '%s.yaml' % role), encoding='utf-8') as handle:
            doc = yaml.safe_load(handle)
        doc = copy.deepcopy(doc)
        doc['machine']['ca'] = {'crt': _b64(self.os_ca.crt_pem)}
        doc['cluster']['ca'] = {'crt': _b64(self.k8s_ca.crt_pem)}
        if role == 'controlplane':
            doc['machine']['ca']['key'] = _b64(self.os_ca.key_pem)
            doc['cluster']['ca']['key'] = _b64(self.k8s_ca.key_pem)
        doc['machine']['certSANs'] = list(extra_sans)
        doc['machine'].update(machine_changes)
        doc['cluster'].update({'id': self.id, 'secret': self.secret, 'clusterName': 'sim'})
        doc['cluster']['controlPlane']['endpoint'] = self.endpoint
        return yaml.safe_dump(doc, sort_keys=False).encode()

    def credentials(self, roles=('os:admin',), ca=None, usages=(ExtendedKeyUsageOID.CLIENT_AUTH,)):
        crt, key = (ca or self.os_ca).client(roles, usages)
        return Credentials(self.os_ca.crt_pem, crt, key, [], [], 'sim', 'test')

    def client(self, address, roles=('os:admin',), ca=None, **kwargs):
        kwargs.setdefault('retry', NO_RETRY)
        return TalosClient(address, credentials=self.credentials(roles, ca), timeout=20, **kwargs)


def insecure(address, **kwargs):
    kwargs.setdefault('retry', NO_RETRY)
    return TalosClient(address, insecure=True, timeout=20, **kwargs)


def private_dir():
    return tempfile.mkdtemp(prefix='talos-sim-')
