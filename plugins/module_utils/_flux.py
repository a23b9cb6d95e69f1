# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flux: the pinned install manifest checked before use, and the objects that connect a GitOps repository.

Facts (docs/kubernetes.md): the release asset ``install.yaml`` of fluxcd/flux2 ``v<version>`` starts with a
``# Flux Version: v<version>`` line; Flux 2.5 needs Kubernetes 1.30, 2.6 1.31, 2.7 1.32, 2.8 and later 1.33
(``flux check``'s constraint); ``flux check`` judges the CRDs and the controller Deployments labelled
``app.kubernetes.io/part-of=flux``. Git over SSH needs a Secret with ``identity`` and ``known_hosts`` and an
``ssh://`` URL (Flux does not take the scp-like ``git@host:path`` form).

Nothing here ever quotes a private key: errors about the key name the option, never its value.
"""

from __future__ import annotations

import base64
import hashlib
import re

from ._kube.errors import KubeError

DEFAULT_RELEASES = 'https://github.com/fluxcd/flux2/releases/download'
PART_OF = 'app.kubernetes.io/part-of'
MANAGED_BY = {'app.kubernetes.io/managed-by': 'hybridops.talos'}
# The oldest Kubernetes minor each Flux minor runs on (flux2 cmd/flux/check.go).
KUBERNETES_FLOOR = {(2, 5): (1, 30), (2, 6): (1, 31), (2, 7): (1, 32)}
NEWER_FLOOR = (1, 33)  # Flux 2.8 and later
_VERSION = re.compile(r'^v?(\d+)\.(\d+)\.(\d+)$')
_HEADER = re.compile(r'^#\s*Flux Version:\s*(v?\S+)\s*$', re.M)
_SHA256 = re.compile(r'^[0-9a-f]{64}$')
_DURATION = re.compile(r'^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$')
_SCP_LIKE = re.compile(r'^(?P<user>[^@/]+)@(?P<host>[^:/]+):(?P<path>.+)$')


def refuse(reason, sentence, **details):
    """A KubeError whose message is ``sentence`` as written (it names what and why itself)."""
    return KubeError(reason, sentence, sentence=sentence, **details)


def parse_version(text, what='version'):
    match = _VERSION.match(str(text or '').strip())
    if not match:
        raise refuse('bad_input', '%s %r is not a Flux release such as 2.7.5.' % (what, text), option=what)
    return tuple(int(part) for part in match.groups())


def version_text(version):
    return '%d.%d.%d' % tuple(version)


def kubernetes_floor(version):
    return KUBERNETES_FLOOR.get(tuple(version[:2]), NEWER_FLOOR if tuple(version[:2]) > (2, 7) else (1, 0))


def check_kubernetes(version, server_version):
    """Refuse a Flux that does not run on the cluster's Kubernetes, as ``flux check --pre`` would."""
    git_version = str((server_version or {}).get('gitVersion') or '')
    match = re.match(r'^v?(\d+)\.(\d+)', git_version)
    if not match:
        return
    running = (int(match.group(1)), int(match.group(2)))
    floor = kubernetes_floor(version)
    if running < floor:
        raise refuse('kubernetes_too_old', 'Flux %s needs Kubernetes %d.%d or newer and the cluster runs %s, so nothing was applied '
                     '(use Flux %s on this cluster).' % ((version_text(version),) + floor + (git_version, _fitting(running))),
                     kubernetes=git_version)


def _fitting(running):
    fitting = [minor for minor, floor in sorted(KUBERNETES_FLOOR.items()) if floor <= running]
    return '%d.%d.x' % fitting[-1] if fitting else 'an older release'


def install_url(base, version):
    return '%s/v%s/install.yaml' % ((base or DEFAULT_RELEASES).rstrip('/'), version_text(version))


def check_sha256(text):
    """The digest in lower case without a ``sha256:`` prefix; refused unless it is 64 hexadecimal digits."""
    value = str(text or '').strip().lower()
    if value.startswith('sha256:'):
        value = value[len('sha256:'):]
    if not _SHA256.match(value):
        raise refuse('bad_input', 'sha256 %r is not a SHA-256 digest (64 hexadecimal digits).' % str(text), option='sha256')
    return value


def verify(data, expected, where):
    """The manifest's digest; refused when a pin is given and it differs."""
    actual = hashlib.sha256(data).hexdigest()
    if expected is not None and actual != expected:
        raise refuse('checksum_mismatch', 'The Flux install manifest from %s has sha256 %s, not the pinned %s, so nothing was '
                     'applied (check the pin against the release\'s checksums file, and the download).' % (where, actual, expected),
                     expected=expected, actual=actual, source=where)
    return actual


def manifest_version(text):
    """The version the manifest's header names (without ``v``), or None."""
    match = _HEADER.search(text[:2000])
    return match.group(1).lstrip('v') if match else None


def flux_objects(objects, namespace):
    """``(crd names, controller Deployments)`` of the manifest as ``flux check`` sees them."""
    flux = [o for o in objects if ((o.get('metadata') or {}).get('labels') or {}).get(PART_OF) == 'flux']
    crds = [o['metadata']['name'] for o in flux if o['kind'] == 'CustomResourceDefinition']
    deployments = [o for o in flux if o['kind'] == 'Deployment' and o['metadata'].get('namespace') == namespace]
    return crds, deployments


def images(deployment):
    template = ((deployment.get('spec') or {}).get('template') or {}).get('spec') or {}
    return [c.get('image') for c in template.get('containers') or ()]


# ---------------------------------------------------------------------- the GitOps repository

def check_duration(value, option):
    if not _DURATION.match(str(value)):
        raise refuse('bad_input', '%s %r is not a duration such as 1m0s or 10m.' % (option, value), option=option)


def check_url(url):
    """The GitRepository URL as Flux takes it; an scp-like address gets the ssh:// form suggested."""
    url = str(url or '').strip()
    scp = _SCP_LIKE.match(url)
    if scp and '://' not in url:
        raise refuse('bad_input', 'url %r is in the scp-like form, which Flux does not take: write ssh://%s@%s/%s.'
                     % (url, scp.group('user'), scp.group('host'), scp.group('path')), option='url')
    if not re.match(r'^(http|https|ssh)://.+', url):
        raise refuse('bad_input', 'url %r is not an ssh://, https:// or http:// Git URL.' % url, option='url')
    return url


def public_key_of(text):
    """The OpenSSH public key of an OpenSSH or PEM private key (for ``identity.pub``); never quotes the key."""
    text = str(text or '')
    if 'PRIVATE KEY-----' not in text:
        raise refuse('bad_input', 'ssh_private_key is not a private key (no "PRIVATE KEY" block): give the deploy key in '
                     'OpenSSH or PEM form.', option='ssh_private_key')
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
    except ImportError:  # the Secret is still right without identity.pub, which Flux does not read
        return None
    data = text.encode('utf-8')
    try:
        if 'OPENSSH PRIVATE KEY' in text:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        encrypted = 'password' in str(exc).lower() or 'encrypted' in str(exc).lower()
        why = 'it is protected by a passphrase, which Flux cannot use' if encrypted else 'it cannot be read as a private key'
        raise refuse('bad_input', 'ssh_private_key is not usable: %s.' % why, option='ssh_private_key') from None
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode('ascii')


def check_known_hosts(text):
    lines = [line.strip() for line in str(text or '').splitlines() if line.strip() and not line.lstrip().startswith('#')]
    if not lines or not all(len(line.split()) >= 3 for line in lines):
        raise refuse('bad_input', 'known_hosts must hold host key lines such as "github.com ssh-ed25519 AAAA..." (ssh-keyscan '
                     'prints them).', option='known_hosts')
    return '\n'.join(lines) + '\n'


def _b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def sync_objects(params, public_key=None):
    """The deploy-key Secret (when a key is given), the GitRepository and the root Kustomization."""
    name, namespace = params['name'], params['namespace']
    secret_name = params.get('secret_name') or name
    objects = []
    key = params.get('ssh_private_key')
    if key:
        data = {'identity': _b64(key if key.endswith('\n') else key + '\n'),
                'known_hosts': _b64(check_known_hosts(params.get('known_hosts')))}
        if public_key:
            data['identity.pub'] = _b64(public_key + '\n')
        objects.append({'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
                        'metadata': {'name': secret_name, 'namespace': namespace, 'labels': dict(MANAGED_BY)}, 'data': data})
    repository = {'apiVersion': 'source.toolkit.fluxcd.io/v1', 'kind': 'GitRepository',
                  'metadata': {'name': name, 'namespace': namespace, 'labels': dict(MANAGED_BY)},
                  'spec': {'interval': params['interval'], 'url': params['url'], 'ref': {'branch': params['branch']}}}
    if key or params.get('secret_name'):
        repository['spec']['secretRef'] = {'name': secret_name}
    objects.append(repository)
    objects.append({'apiVersion': 'kustomize.toolkit.fluxcd.io/v1', 'kind': 'Kustomization',
                    'metadata': {'name': name, 'namespace': namespace, 'labels': dict(MANAGED_BY)},
                    'spec': {'interval': params['kustomization_interval'], 'path': params['path'], 'prune': params['prune'],
                             'sourceRef': {'kind': 'GitRepository', 'name': name}}})
    return objects
