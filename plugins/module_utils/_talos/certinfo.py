# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When the cluster's certificates expire, for talos_certificates_info.

Three kinds are read: the CAs of the secrets bundle (Talos makes them for 10 years), the client certificates of the
talosconfig and kubeconfig this collection issued (renewed by talos_talosconfig and talos_kubeconfig), and the
serving certificates the nodes present (Talos' apid, the Kubernetes API server; Talos renews those itself, so one
that is close to its end means a node that stopped renewing). Only public facts leave here: subject, issuer,
fingerprint, expiry.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ssl

from . import pki

CA_NAMES = ('os', 'k8s', 'k8saggregator', 'etcd')


def _stamp(value):
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')


def entry(name, kind, where, cert, now):
    """One certificate as the module reports it."""
    expires = pki.not_after(cert)
    return {'name': name, 'kind': kind, 'where': where, 'subject': cert.subject.rfc4514_string(),
            'issuer': cert.issuer.rfc4514_string(), 'fingerprint': pki.fingerprint(cert), 'not_after': _stamp(expires),
            'hours_left': int((expires - now).total_seconds() // 3600)}


def bundle_cas(bundle, source, now):
    found = []
    for name in CA_NAMES:
        pair = (bundle.get('certs') or {}).get(name)
        if pair and pair.get('crt'):
            cert = pki.load_certificate(base64.b64decode(pair['crt']), 'certs.%s.crt' % name)
            found.append(entry('%s CA' % name, 'ca', source, cert, now))
    return found


def pem_certificate(pem, what):
    return pki.load_certificate(pem, what)


def judge(entries, warn_before_hours):
    """(expired, expiring): names of certificates past their end, and of those within the warning window."""
    expired = [e['name'] + ' (' + e['where'] + ')' for e in entries if e['hours_left'] < 0]
    expiring = [e['name'] + ' (' + e['where'] + ')' for e in entries if 0 <= e['hours_left'] < warn_before_hours]
    return expired, expiring


async def _serving_der(host, port, context, timeout):
    writer = None
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout)
        return writer.get_extra_info('ssl_object').getpeercert(binary_form=True)
    finally:
        if writer is not None:
            writer.close()


def serving_certificate(host, port, context, timeout):
    """The certificate ``host:port`` presents (verified by ``context``), or an error string."""
    try:
        der = asyncio.run(_serving_der(host, port, context, timeout))
    except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
        return None, '%s: %s' % (exc.__class__.__name__, getattr(exc, 'reason', None) or getattr(exc, 'strerror', None) or exc)
    x509 = pki._crypto()[0]  # pylint: disable=protected-access
    return x509.load_der_x509_certificate(der), None


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)
