# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""talosconfig files: a client certificate for one Talos role, signed by the cluster's OS CA.

Layout (talosctl's)::

    context: NAME
    contexts:
        NAME: {endpoints: [...], nodes: [...], ca: <b64 PEM>, crt: <b64 PEM>, key: <b64 PEM>}

An existing context is kept while it still fits: same CA, certificate signed by that CA for the same
role, its key matching, same endpoints and nodes, and more than ``renew_before`` left to run.
"""

from __future__ import annotations

import base64
import binascii
import datetime

from . import pki
from .errors import TalosConfigError
from .yamlio import dump_document, load_documents


def _b64(data):
    return base64.b64encode(data).decode('ascii')


def check_endpoints(values, option):
    for value in values:
        if not isinstance(value, str) or not value or '://' in value or '/' in value:
            raise TalosConfigError('%s: %r is not a host or host:port (talosconfig endpoints carry no scheme or path).'
                                   % (option, value), reason='bad_input', option=option)
    return list(values)


def build_context(bundle, role, endpoints, nodes, validity, now=None):
    os_pair = bundle['certs']['os']
    ca_pem = base64.b64decode(os_pair['crt'])
    crt, key = pki.new_client_certificate(ca_pem, base64.b64decode(os_pair['key']), [role], validity, now=now)
    return {'endpoints': list(endpoints), 'nodes': list(nodes), 'ca': os_pair['crt'], 'crt': _b64(crt), 'key': _b64(key)}


def parse_talosconfig(data, path):
    docs = load_documents(data, 'talosconfig %s' % path)
    if len(docs) != 1 or not isinstance(docs[0], dict) or not isinstance(docs[0].get('contexts', {}), dict):
        raise TalosConfigError('talosconfig %s is not a talosconfig (a mapping with context and contexts).' % path,
                               reason='talosconfig_invalid')
    config = docs[0]
    config.setdefault('contexts', {})
    return config


def _decode(value):
    try:
        return base64.b64decode(value or '', validate=True)
    except (binascii.Error, ValueError):
        return b''


def why_renew(context, bundle, role, endpoints, nodes, renew_before, now=None):
    """Reasons to issue a new certificate for an existing context; empty when it still fits."""
    if not isinstance(context, dict):
        return ['the context does not exist']
    now = now or pki.now_utc()
    reasons = []
    if context.get('ca') != bundle['certs']['os']['crt']:
        reasons.append('its CA is not the cluster OS CA')
    try:
        cert = pki.load_certificate(_decode(context.get('crt')), 'crt')
        key = pki.load_private_key(_decode(context.get('key')), 'key')
    except TalosConfigError:
        return reasons + ['its certificate or key is unreadable']
    ca_cert = pki.load_certificate(base64.b64decode(bundle['certs']['os']['crt']), 'certs.os.crt')
    if not pki.verify_signed_by(cert, ca_cert):
        reasons.append('its certificate is not signed by the cluster OS CA')
    if pki.public_bytes(cert.public_key()) != pki.public_bytes(key.public_key()):
        reasons.append('its key does not match its certificate')
    if roles_of(cert) != [role]:
        reasons.append('its role is %s, not %s' % (', '.join(roles_of(cert)) or 'none', role))
    if pki.not_after(cert) - now < renew_before:
        reasons.append('its certificate expires on %s' % pki.not_after(cert).strftime('%Y-%m-%d'))
    if list(context.get('endpoints') or []) != list(endpoints):
        reasons.append('its endpoints differ')
    if list(context.get('nodes') or []) != list(nodes):
        reasons.append('its nodes differ')
    return reasons


def roles_of(cert):
    from cryptography.x509.oid import NameOID

    return [attr.value for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def render_talosconfig(existing, name, context):
    """The talosconfig with ``context`` set (other contexts kept) and made current."""
    contexts = dict((existing or {}).get('contexts') or {})
    contexts[name] = context
    return dump_document({'context': name, 'contexts': {key: contexts[key] for key in sorted(contexts)}}).encode('utf-8')


def describe_context(context):
    cert = pki.load_certificate(_decode(context.get('crt')), 'crt')
    return {'role': ', '.join(roles_of(cert)), 'fingerprint': pki.fingerprint(cert),
            'not_after': pki.not_after(cert).strftime('%Y-%m-%dT%H:%M:%SZ')}


def hours(value):
    return datetime.timedelta(hours=value)
