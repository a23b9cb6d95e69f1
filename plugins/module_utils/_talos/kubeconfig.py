# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deciding whether a kubeconfig on disk still does the job of a fresh one from Talos.

Talos signs a new client certificate on every Kubeconfig call, so comparing bytes would report a
change on every run. Two kubeconfigs are equivalent when they reach the same API server, trust the
same CA, and the one on disk holds a client certificate from that CA that stays valid long enough.
"""

from __future__ import annotations

import base64
import datetime
import traceback

try:
    import yaml
except ImportError:
    yaml = None

try:
    from cryptography import x509
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

from .errors import TalosConfigError
from .redact import REDACTED

SECRET_KEYS = ('client-key-data', 'client-certificate-data', 'token', 'password')


def parse(text, what):
    """The current context's server, CA data and client certificate of a kubeconfig text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise TalosConfigError('%s is not valid YAML.' % what, reason='bad_kubeconfig') from None
    try:
        context_name = data.get('current-context') or data['contexts'][0]['name']
        context = next(c['context'] for c in data['contexts'] if c['name'] == context_name)
        cluster = next(c['cluster'] for c in data['clusters'] if c['name'] == context['cluster'])
        user = next(u['user'] for u in data['users'] if u['name'] == context['user'])
    except (AttributeError, KeyError, IndexError, TypeError, StopIteration):
        raise TalosConfigError('%s has no complete current context (cluster, user).' % what, reason='bad_kubeconfig') from None
    return dict(data=data, context=context_name, server=cluster.get('server'),
                ca=cluster.get('certificate-authority-data'), cert=user.get('client-certificate-data'))


def certificate(cert_data):
    try:
        return x509.load_pem_x509_certificate(base64.b64decode(cert_data))
    except (TypeError, ValueError):
        return None


def not_after(cert):
    return cert.not_valid_after_utc if hasattr(cert, 'not_valid_after_utc') else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def still_good(current, fresh, renew_before, now=None):
    """(True, '') when ``current`` does the job of ``fresh`` for more than ``renew_before`` (a timedelta); else (False, why)."""
    if current['server'] != fresh['server']:
        return False, 'the API server changed from %s to %s' % (current['server'], fresh['server'])
    if current['ca'] != fresh['ca']:
        return False, 'the cluster CA changed'
    if current['context'] != fresh['context']:
        return False, 'the context changed from %s to %s' % (current['context'], fresh['context'])
    cert = certificate(current['cert'])
    ca = certificate(current['ca'])
    if cert is None or ca is None:
        return False, 'the client certificate on disk cannot be read'
    if cert.issuer != ca.subject:
        return False, 'the client certificate on disk was not issued by the cluster CA'
    now = now or datetime.datetime.now(datetime.timezone.utc)
    remaining = not_after(cert) - now
    if remaining < renew_before:
        return False, 'the client certificate on disk expires on %s, within %d hours' % (
            not_after(cert).strftime('%Y-%m-%d %H:%M'), renew_before.total_seconds() // 3600)
    return True, ''


def redacted_text(data):
    """The kubeconfig as YAML with every credential replaced, for diffs."""
    def scrub(node):
        if isinstance(node, dict):
            return {k: (REDACTED if k in SECRET_KEYS else scrub(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        return node
    return yaml.safe_dump(scrub(data), default_flow_style=False, sort_keys=True)


def secret_values(data):
    """Every credential value in a kubeconfig, to keep them out of Ansible's output."""
    found = []
    for user in (data or {}).get('users') or []:
        for key in SECRET_KEYS:
            value = (user.get('user') or {}).get(key)
            if value:
                found.append(str(value))
    return found
