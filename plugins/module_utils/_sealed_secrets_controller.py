# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Sealed Secrets controller through Flux, and its certificate, as pure data and checks.

Facts (docs/sealed-secrets.md, platform.md section 4): the chart ``sealed-secrets`` of
``https://bitnami-labs.github.io/sealed-secrets`` (2.18.x ships controller 0.36.x) names the controller after the
chart, while kubeseal looks for ``sealed-secrets-controller`` in ``kube-system``, so the release sets
``fullnameOverride``. The controller keeps its keys in ``kubernetes.io/tls`` Secrets of its namespace labelled
``sealedsecrets.bitnami.com/sealed-secrets-key=active`` and serves the newest key's certificate at ``/v1/cert.pem`` on
its Service's port ``http``; kubeseal reads it through the API server's service proxy.

The certificate is public; the key Secrets are never read for their data here (only their names).
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from ._errors import ModuleError
from . import _sealed_secrets as sealing

CHART = 'sealed-secrets'
CHART_REPOSITORY = 'https://bitnami-labs.github.io/sealed-secrets'
DEFAULT_VERSION = '2.18.0'
SUPPORTED_MINOR = '2.18'
REPOSITORY_NAME = 'sealed-secrets'
CONTROLLER_NAME = 'sealed-secrets-controller'
KEY_LABEL = 'sealedsecrets.bitnami.com/sealed-secrets-key'
ACTIVE_KEYS = KEY_LABEL + '=active'
MANAGED_BY = 'app.kubernetes.io/managed-by'


class ControllerError(ModuleError):
    """Something the controller cannot be installed with, or a certificate that is not usable; one sentence."""

    def __init__(self, reason, sentence, **details):
        super().__init__(reason, sentence, sentence=sentence, **details)


def check_version(version):
    """The chart version without a leading v; only the 2.18 line (controller 0.36) is taken."""
    text = str(version or '').lstrip('v')
    parts = text.split('.')
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or '.'.join(parts[:2]) != SUPPORTED_MINOR:
        raise ControllerError('bad_input', 'version %s is not a %s.x release of the sealed-secrets chart (the line of controller '
                              '0.36 this collection seals for), so nothing was applied.' % (version, SUPPORTED_MINOR), option='version')
    return text


def objects(params, version):
    """The HelmRepository and the HelmRelease, in the order they are applied."""
    repository = {
        'apiVersion': 'source.toolkit.fluxcd.io/v1', 'kind': 'HelmRepository',
        'metadata': {'name': REPOSITORY_NAME, 'namespace': params['flux_namespace'], 'labels': {MANAGED_BY: 'hybridops.talos'}},
        'spec': {'url': params['chart_repository'], 'interval': '24h0m0s'},
    }
    release = {
        'apiVersion': 'helm.toolkit.fluxcd.io/v2', 'kind': 'HelmRelease',
        'metadata': {'name': params['release_name'], 'namespace': params['namespace'], 'labels': {MANAGED_BY: 'hybridops.talos'}},
        'spec': {
            'interval': params['interval'],
            'releaseName': params['release_name'],
            'chart': {'spec': {'chart': CHART, 'version': version,
                               'sourceRef': {'kind': 'HelmRepository', 'name': REPOSITORY_NAME, 'namespace': params['flux_namespace']}}},
            'install': {'crds': 'Create', 'remediation': {'retries': 3}},
            'upgrade': {'crds': 'Skip', 'remediation': {'retries': 3, 'remediateLastFailure': True}},
            'values': {'fullnameOverride': params['controller_name']},
        },
    }
    return [repository, release]


def cert_path(namespace, controller_name, port):
    """The service proxy path of the controller's certificate, the one ``kubeseal --fetch-cert`` asks for."""
    service = 'http:%s:%s' % (controller_name, port)
    return '/api/v1/namespaces/%s/services/%s/proxy/v1/cert.pem' % (quote(namespace, safe=''), quote(service, safe=':'))


def certificate_facts(pem, now=None):
    """Check a controller certificate (PEM X.509 with an RSA key, within its dates) and describe it; raises SealError."""
    if isinstance(pem, bytes):
        try:
            pem = pem.decode('ascii')
        except UnicodeDecodeError:
            raise ControllerError('bad_certificate', 'The certificate is not PEM text, so it is not the controller\'s '
                                  'certificate.', option='certificate') from None
    key = sealing.load_certificate(pem, now=now)
    from cryptography import x509  # pylint: disable=import-outside-toplevel  # load_certificate checked it is there
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    cert = x509.load_pem_x509_certificate(pem.encode('ascii'))
    text = cert.public_bytes(serialization.Encoding.PEM).decode('ascii')
    return dict(certificate=text, sha256_fingerprint=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
                not_before=cert.not_valid_before_utc.strftime('%Y-%m-%dT%H:%M:%SZ'),
                not_after=cert.not_valid_after_utc.strftime('%Y-%m-%dT%H:%M:%SZ'), key_size=key.key_size,
                subject=cert.subject.rfc4514_string())


def key_names(secrets):
    """Names of the active key Secrets, oldest first (the controller seals with the newest)."""
    return [s['metadata']['name'] for s in sorted(secrets, key=lambda s: (s['metadata'].get('creationTimestamp') or '', s['metadata']['name']))
            if s.get('type') == 'kubernetes.io/tls']
