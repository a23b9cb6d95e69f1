# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Talos secrets bundle: generate, load, check, rebuild from a control-plane config.

The bundle is kept in Talos' own layout (``talosctl gen secrets``), so talosctl can read ours and
we can read talosctl's::

    cluster: {id, secret}
    secrets: {bootstraptoken, secretboxencryptionsecret and/or aescbcencryptionsecret}
    trustdinfo: {token}
    certs: {etcd, k8s, k8saggregator: {crt, key}, k8sserviceaccount: {key}, os: {crt, key}}

Certificates and keys are base64 of PEM. Every message names a field, never a value.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from . import pki
from .contracts import RSA_SERVICE_ACCOUNT_FROM
from .errors import TalosConfigError
from .patch import LEGACY, identity
from .yamlio import dump_document, load_documents

TOKEN_RE = re.compile(r'^[a-z0-9]{6}\.[a-z0-9]{16}$')
_TOKEN_CHARS = '0123456789abcdefghijklmnopqrstuvwxyz'
CA_NAMES = ('etcd', 'k8s', 'k8saggregator', 'os')


def _b64(data):
    return base64.b64encode(data).decode('ascii')


def new_token():
    """``<6>.<16>`` of [0-9a-z], unbiased (bytes >= 252 are dropped, as Talos does)."""
    def part(length):
        out = []
        while len(out) < length:
            for byte in os.urandom(length * 2):
                if byte < 252 and len(out) < length:
                    out.append(_TOKEN_CHARS[byte % 36])
        return ''.join(out)

    return '%s.%s' % (part(6), part(16))


def generate_bundle(contract, now=None):
    """A fresh bundle with Talos' fields, key types and lifetimes for ``contract`` (major, minor)."""
    now = now or pki.now_utc()
    cas = {
        'etcd': pki.new_ca('ecdsa', organization='etcd', now=now),
        'k8s': pki.new_ca('ecdsa', organization='kubernetes', now=now),
        'k8saggregator': pki.new_ca('ecdsa', common_name='front-proxy', now=now),
        'os': pki.new_ca('ed25519', organization='talos', now=now),
    }
    sa_kind = 'rsa' if tuple(contract) >= RSA_SERVICE_ACCOUNT_FROM else 'ecdsa'
    certs = {name: {'crt': _b64(crt), 'key': _b64(key)} for name, (crt, key) in cas.items()}
    certs['k8sserviceaccount'] = {'key': _b64(pki.encode_private_key(pki.new_key(sa_kind)))}
    return {
        'cluster': {'id': base64.urlsafe_b64encode(os.urandom(32)).decode('ascii'), 'secret': _b64(os.urandom(32))},
        'secrets': {'bootstraptoken': new_token(), 'secretboxencryptionsecret': _b64(os.urandom(32))},
        'trustdinfo': {'token': new_token()},
        'certs': {name: certs[name] for name in ('etcd', 'k8s', 'k8saggregator', 'k8sserviceaccount', 'os')},
    }


def dump_bundle(bundle):
    return dump_document(bundle).encode('utf-8')


def parse_bundle(data, source):
    """Load a bundle from YAML bytes and check it; ``source`` names it in messages."""
    docs = load_documents(data, 'secrets bundle %s' % source)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise TalosConfigError('secrets bundle %s is not one YAML mapping.' % source, reason='bundle_invalid')
    return check_bundle(docs[0], source)


def _field(bundle, path, source, required=True):
    node = bundle
    for part in path.split('.'):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None or node == '':
        if required:
            raise TalosConfigError('secrets bundle %s has no %s.' % (source, path), reason='bundle_incomplete', field=path)
        return None
    if not isinstance(node, str):
        raise TalosConfigError('secrets bundle %s: %s is not a string.' % (source, path), reason='bundle_invalid', field=path)
    return node


def decode_pem(value, path, source):
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TalosConfigError('secrets bundle %s: %s is not base64.' % (source, path), reason='bundle_invalid', field=path) from None
    if not pki.pem_label(data):
        raise TalosConfigError('secrets bundle %s: %s is not base64 of a PEM block.' % (source, path),
                               reason='bundle_invalid', field=path)
    return data


def check_bundle(bundle, source):
    """Check every field Talos needs, token formats, and that each CA certificate matches its key."""
    for path in ('cluster.id', 'cluster.secret', 'secrets.bootstraptoken', 'trustdinfo.token'):
        _field(bundle, path, source)
    for path in ('secrets.bootstraptoken', 'trustdinfo.token'):
        if not TOKEN_RE.match(_field(bundle, path, source)):
            raise TalosConfigError('secrets bundle %s: %s is not a token of the form [a-z0-9]{6}.[a-z0-9]{16}.' % (source, path),
                                   reason='bundle_invalid', field=path)
    # Both are kept when both are there: `talosctl gen secrets --from-controlplane-config` copies both
    # from a cluster that moved from aescbc to secretbox, and its API server needs both (secretbox to
    # write, aescbc to read the older Secrets). Neither is refused with the reason of Talos' own
    # Bundle.Validate (generate/secrets/bundle.go@v1.13.9): it would leave Secrets unencrypted at rest.
    secretbox = _field(bundle, 'secrets.secretboxencryptionsecret', source, required=False)
    aescbc = _field(bundle, 'secrets.aescbcencryptionsecret', source, required=False)
    if not (secretbox or aescbc):
        raise TalosConfigError('secrets bundle %s has no Kubernetes encryption secret: one of '
                               '[secrets.secretboxencryptionsecret, secrets.aescbcencryptionsecret] is required; add '
                               'secrets.secretboxencryptionsecret (base64 of 32 random bytes), the API server still reads '
                               'the Secrets written without it.' % source, reason='bundle_incomplete',
                               field='secrets.secretboxencryptionsecret')
    for name in CA_NAMES:
        crt = decode_pem(_field(bundle, 'certs.%s.crt' % name, source), 'certs.%s.crt' % name, source)
        key = decode_pem(_field(bundle, 'certs.%s.key' % name, source), 'certs.%s.key' % name, source)
        try:
            pki.check_pair(crt, key, 'certs.%s' % name)
        except TalosConfigError as exc:
            raise TalosConfigError('secrets bundle %s: %s' % (source, exc), reason=exc.reason, field='certs.%s' % name) from None
    sa_key = decode_pem(_field(bundle, 'certs.k8sserviceaccount.key', source), 'certs.k8sserviceaccount.key', source)
    pki.load_private_key(sa_key, 'secrets bundle %s: certs.k8sserviceaccount.key' % source)
    return bundle


def bundle_from_machineconfig(data, source):
    """Rebuild the bundle from a control-plane machine config (adopting a cluster made elsewhere)."""
    docs = load_documents(data, 'machine config %s' % source)
    config = next((doc for doc in docs if isinstance(doc, dict) and identity(doc) == LEGACY), None)
    if config is None:
        raise TalosConfigError('machine config %s has no v1alpha1 document.' % source, reason='config_invalid')
    machine = config.get('machine') or {}
    cluster = config.get('cluster') or {}
    machine_type = machine.get('type')
    if machine_type == 'worker':
        raise TalosConfigError('machine config %s is a worker config: it holds no CA private keys, so the secrets '
                               'bundle can only be rebuilt from a control-plane config.' % source, reason='worker_config')
    if machine_type not in ('controlplane', 'init'):
        raise TalosConfigError('machine config %s has machine.type %r: expected controlplane.' % (source, machine_type),
                               reason='config_invalid')

    def pair(node):
        node = node or {}
        return {'crt': node.get('crt') or '', 'key': node.get('key') or ''}

    token = cluster.get('token') or ''
    bundle = {
        'cluster': {'id': cluster.get('id') or '', 'secret': cluster.get('secret') or ''},
        'secrets': {'bootstraptoken': token},
        'trustdinfo': {'token': machine.get('token') or ''},
        'certs': {
            'etcd': pair((cluster.get('etcd') or {}).get('ca')),
            'k8s': pair(cluster.get('ca')),
            'k8saggregator': pair(cluster.get('aggregatorCA')),
            'k8sserviceaccount': {'key': (cluster.get('serviceAccount') or {}).get('key') or ''},
            'os': pair(machine.get('ca')),
        },
    }
    if cluster.get('secretboxEncryptionSecret'):
        bundle['secrets']['secretboxencryptionsecret'] = cluster['secretboxEncryptionSecret']
    if cluster.get('aescbcEncryptionSecret'):
        bundle['secrets']['aescbcencryptionsecret'] = cluster['aescbcEncryptionSecret']
    if len(bundle['secrets']) == 1:
        raise TalosConfigError('machine config %s has neither cluster.secretboxEncryptionSecret nor '
                               'cluster.aescbcEncryptionSecret, and Talos refuses a secrets bundle without one: adopt '
                               'a bundle (adopt_from) that adds secrets.secretboxencryptionsecret (base64 of 32 random '
                               'bytes) instead.' % source, reason='bundle_incomplete')
    names = {'cluster.id': 'cluster.id', 'cluster.secret': 'cluster.secret', 'secrets.bootstraptoken': 'cluster.token',
             'trustdinfo.token': 'machine.token', 'certs.os': 'machine.ca', 'certs.k8s': 'cluster.ca',
             'certs.etcd': 'cluster.etcd.ca', 'certs.k8saggregator': 'cluster.aggregatorCA',
             'certs.k8sserviceaccount': 'cluster.serviceAccount'}
    try:
        return check_bundle(bundle, 'rebuilt from %s' % source)
    except TalosConfigError as exc:
        message = str(exc)
        for bundle_path, config_path in names.items():
            message = message.replace(bundle_path + '.', config_path + '.').replace(bundle_path + ' ', config_path + ' ')
        raise TalosConfigError(message, reason=exc.reason) from None


def bundles_equal(left, right):
    """Same secrets, whatever the key order or extra empty fields."""
    def flat(bundle):
        out = {}
        for section, values in bundle.items():
            for key, value in (values or {}).items():
                if isinstance(value, dict):
                    for sub, leaf in value.items():
                        if leaf:
                            out['%s.%s.%s' % (section, key, sub)] = leaf
                elif value:
                    out['%s.%s' % (section, key)] = value
        return out

    return flat(left) == flat(right)


def secret_values(bundle):
    """Every string that must never be shown: raw values, decoded PEM, each PEM body line."""
    values = set()
    for section in ('cluster', 'secrets', 'trustdinfo'):
        for value in (bundle.get(section) or {}).values():
            if isinstance(value, str) and value:
                values.add(value)
    for name, pair in (bundle.get('certs') or {}).items():
        value = (pair or {}).get('key')
        if not value:
            continue
        values.add(value)
        try:
            decoded = base64.b64decode(value).decode('ascii')
        except (binascii.Error, ValueError):
            continue
        values.add(decoded.strip())
        values.update(line for line in decoded.splitlines() if len(line) >= 16 and not line.startswith('-----'))
        values.add(pki.key_for_python(decoded).decode('ascii').strip())
    return values


def ca_summary(bundle):
    """Public facts about the CAs (fingerprint, subject, expiry), safe to show."""
    summary = {}
    for name in CA_NAMES:
        cert = pki.load_certificate(base64.b64decode(bundle['certs'][name]['crt']), 'certs.%s.crt' % name)
        summary[name] = {'fingerprint': pki.fingerprint(cert), 'subject': cert.subject.rfc4514_string(),
                         'not_after': pki.not_after(cert).strftime('%Y-%m-%dT%H:%M:%SZ'),
                         'key_type': type(cert.public_key()).__name__.replace('PublicKey', '').lstrip('_')}
    return summary
