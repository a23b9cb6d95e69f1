# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sealing Secrets for the Sealed Secrets controller in Python, without the kubeseal binary.

Facts (docs/sealed-secrets.md, bitnami-labs/sealed-secrets v0.36): a value is sealed with a random 32-byte
session key under AES-256-GCM with an all-zero 12-byte nonce and no AAD (the tag appended); the session key is
wrapped with RSA-OAEP (SHA-256, MGF1 SHA-256) whose label is the scope label; the bytes are a big-endian uint16
length of the RSA ciphertext, the RSA ciphertext, the GCM output. ``spec.encryptedData`` holds them in standard
base64 with padding. The scope label is ``<namespace>/<name>`` (strict), ``<namespace>`` (namespace-wide) or
empty (cluster-wide); the controller takes name, namespace and the scope annotations from the SealedSecret's own
metadata, so a value moved to another name or namespace does not unseal.

No churn. Sealing is randomized: the same values sealed twice give different bytes, so sealing on every run would
rewrite every SealedSecret (a Git commit and a controller update each time). Without the controller's private key
we cannot decrypt the existing one to compare, so :func:`keep_decision` keeps the existing SealedSecret only on
evidence that its values are the wanted ones:

- the existing SealedSecret, as read from the cluster, has the wanted name, namespace, scope, type, labels,
  annotations and the same set of keys;
- its ``Synced`` condition is ``True`` for its current generation (``status.observedGeneration`` equals
  ``metadata.generation``), so the controller unsealed exactly this spec;
- the Secret the controller made from it (owned by it when it has owner references) holds exactly the wanted
  values, key by key.

Anything else (no status, a failed or stale unseal, no live Secret, one value different) seals again. The rule
can reseal when nothing changed (a never-applied file); it never keeps a SealedSecret whose values differ.

Nothing here ever quotes a secret value: errors name the key, the option and the reason, never the value.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import os
import re
import struct

from ._errors import ModuleError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    HAS_CRYPTOGRAPHY = True
except ImportError:  # the filter says so when it is used, not when Ansible loads it
    HAS_CRYPTOGRAPHY = False

API_VERSION = 'bitnami.com/v1alpha1'
KIND = 'SealedSecret'
SCOPES = ('strict', 'namespace-wide', 'cluster-wide')
NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide'
CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide'
SCOPE_ANNOTATIONS = {'namespace-wide': NAMESPACE_WIDE, 'cluster-wide': CLUSTER_WIDE}
# kubectl's copy of the applied object: on a Secret it holds the values in clear, so it never goes into a template.
LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'
SESSION_KEY_BYTES = 32
NONCE = b'\x00' * 12  # safe only because every session key seals exactly one value
_SECRET_KEY = re.compile(r'^[-._a-zA-Z0-9]+$')
# Secret keys as the API server checks them (IsConfigMapKey): at most 253 characters, not "." or ".." or "..x".
MAX_KEY = 253


class SealError(ModuleError):
    """Something that cannot be sealed; the sentence names the key or option, never a value."""

    def __init__(self, reason, sentence, **details):
        super().__init__(reason, sentence, sentence=sentence, **details)


def _need_cryptography():
    if not HAS_CRYPTOGRAPHY:
        raise SealError('missing_library', 'Sealing needs the cryptography Python library on the controller (pip install cryptography).')


# ---------------------------------------------------------------------------------------------- crypto


def scope_label(scope, name=None, namespace=None):
    """The RSA-OAEP label that binds a sealed value to its scope (the controller's EncryptionLabel)."""
    check_scope(scope)
    if scope == 'strict':
        return ('%s/%s' % (namespace, name)).encode('utf-8')
    if scope == 'namespace-wide':
        return str(namespace).encode('utf-8')
    return b''


def check_scope(scope):
    if scope not in SCOPES:
        raise SealError('bad_scope', 'Scope %r is not one of %s.' % (str(scope)[:40], ', '.join(SCOPES)), option='scope')


def seal(plaintext, public_key, label):
    """The controller's hybrid encryption of one value; a fresh session key each call."""
    _need_cryptography()
    session_key = os.urandom(SESSION_KEY_BYTES)
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    wrapped = public_key.encrypt(session_key, oaep)
    sealed = AESGCM(session_key).encrypt(NONCE, bytes(plaintext), None)
    return struct.pack('>H', len(wrapped)) + wrapped + sealed


def load_certificate(pem, now=None):
    """The RSA public key of the controller's certificate (PEM X.509, as ``/v1/cert.pem`` serves it)."""
    _need_cryptography()
    if isinstance(pem, str):
        pem = pem.encode('utf-8')
    if not isinstance(pem, bytes) or b'-----BEGIN CERTIFICATE-----' not in pem:
        raise SealError('bad_certificate', 'The certificate is not a PEM X.509 certificate: give the controller\'s '
                        'certificate (its /v1/cert.pem, what kubeseal --fetch-cert prints).', option='certificate')
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise SealError('bad_certificate', 'The certificate cannot be read as a PEM X.509 certificate: give the controller\'s '
                        'certificate (its /v1/cert.pem, what kubeseal --fetch-cert prints).', option='certificate') from None
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealError('not_rsa', 'The certificate holds %s key, not an RSA key, so it is not a Sealed Secrets controller\'s '
                        'certificate.' % _key_kind(key), option='certificate')
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > end or now < start:
        raise SealError('certificate_expired' if now > end else 'certificate_not_yet_valid',
                        'The certificate is valid from %s to %s and it is now %s, so values sealed with it could be for a '
                        'key the controller no longer has: fetch the controller\'s current certificate.' % (
                            _when(start), _when(end), _when(now)), option='certificate')
    return key


def _key_kind(key):
    """What kind of public key it is, in words (the class names differ between cryptography's backends)."""
    kinds = ((ec.EllipticCurvePublicKey, 'an elliptic-curve (EC)'), (ed25519.Ed25519PublicKey, 'an Ed25519'),
             (ed448.Ed448PublicKey, 'an Ed448'), (dsa.DSAPublicKey, 'a DSA'))
    return next((words for cls, words in kinds if isinstance(key, cls)), 'another kind of')


def _when(moment):
    return moment.strftime('%Y-%m-%d %H:%M UTC')


# ---------------------------------------------------------------------------------------------- objects


def check_key(key):
    """Refuse a key the API server would refuse in a Secret; the sentence quotes the key, never its value."""
    if not isinstance(key, str):
        raise SealError('bad_key', 'A key of the values is of type %s, not a string; Secret keys are strings.' % type(key).__name__)
    if not key or len(key) > MAX_KEY or not _SECRET_KEY.match(key) or key in ('.', '..') or key.startswith('..'):
        raise SealError('bad_key', 'Key %r is not a valid Secret key (letters, digits, "-", "_" and ".", at most %d characters, '
                        'not "." or ".." or starting with "..").' % (key[:80], MAX_KEY), key=key[:80])


def _value_bytes(key, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode('utf-8')
    raise SealError('bad_value', 'The value of key %r is of type %s, not a string: quote it.' % (key, type(value).__name__), key=key)


def plain_values(data=None, string_data=None):
    """``{key: bytes}`` from ``data`` (bytes, or str as UTF-8) and ``string_data`` (str); string_data wins as in a Secret."""
    values = {}
    for source in (data or {}, string_data or {}):
        if not isinstance(source, dict):
            raise SealError('bad_input', 'The values are of type %s, not a dictionary of key and value.' % type(source).__name__)
        for key, value in source.items():
            check_key(key)
            values[key] = _value_bytes(key, value)
    return values


def from_secret(secret):
    """The parts of a ``v1`` Secret dictionary: name, namespace, type, labels, annotations, immutable and values."""
    metadata = secret.get('metadata') or {}
    data = {}
    for key, value in (secret.get('data') or {}).items():
        check_key(key)
        try:
            data[key] = base64.b64decode(value if isinstance(value, (str, bytes)) else b'!', validate=True)
        except (binascii.Error, ValueError):
            raise SealError('bad_value', 'The value of key %r under data is not base64 (a Secret\'s data is base64; put clear '
                            'text under stringData).' % key, key=key) from None
    return dict(name=metadata.get('name'), namespace=metadata.get('namespace'), type=secret.get('type') or 'Opaque',
                labels=metadata.get('labels'), annotations=metadata.get('annotations'), immutable=secret.get('immutable'),
                values=plain_values(data, secret.get('stringData')))


def _strings(what, mapping):
    mapping = dict(mapping or {})
    for key, value in mapping.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise SealError('bad_input', 'Every %s must map a string to a string, and %r does not.' % (what, str(key)[:80]), option=what)
    return mapping


def check_target(scope, name, namespace):
    check_scope(scope)
    if not isinstance(name, str) or not name:
        raise SealError('missing_name', 'A SealedSecret needs a name (the name of the Secret it becomes).', option='name')
    if scope in ('strict', 'namespace-wide') and (not isinstance(namespace, str) or not namespace):
        raise SealError('missing_namespace', 'Scope %s binds the values to a namespace, so give the namespace of Secret %s.' % (
            scope, name), option='namespace')
    if namespace is not None and not isinstance(namespace, str):
        raise SealError('bad_input', 'The namespace of Secret %s is of type %s, not a string.' % (name, type(namespace).__name__), option='namespace')


def scope_annotations(annotations, scope):
    """``annotations`` with exactly the annotation of ``scope`` (none for strict), as kubeseal sets them."""
    found = {k: v for k, v in (annotations or {}).items() if k not in (NAMESPACE_WIDE, CLUSTER_WIDE)}
    if scope in SCOPE_ANNOTATIONS:
        found[SCOPE_ANNOTATIONS[scope]] = 'true'
    return found


def scope_of(annotations):
    """The scope the controller reads from a SealedSecret's annotations (cluster-wide first)."""
    annotations = annotations or {}
    if annotations.get(CLUSTER_WIDE) == 'true':
        return 'cluster-wide'
    if annotations.get(NAMESPACE_WIDE) == 'true':
        return 'namespace-wide'
    return 'strict'


def template(name, namespace, scope, type='Opaque', labels=None, annotations=None, immutable=None):
    """``spec.template`` of a SealedSecret: the Secret's metadata and type, never a value."""
    annotations = scope_annotations(_strings('annotation', annotations), scope)
    annotations.pop(LAST_APPLIED, None)
    metadata = {'name': name}
    if namespace:
        metadata['namespace'] = namespace
    labels = _strings('label', labels)
    if labels:
        metadata['labels'] = labels
    if annotations:
        metadata['annotations'] = annotations
    spec = {'metadata': metadata, 'type': str(type or 'Opaque')}
    if immutable is not None:
        spec['immutable'] = bool(immutable)
    return spec


def sealed_secret(public_key, values, name, namespace=None, scope='strict', type='Opaque', labels=None, annotations=None,
                  immutable=None):
    """A ``bitnami.com/v1alpha1`` SealedSecret whose Secret is ``name`` in ``namespace`` with ``values`` ({key: bytes})."""
    check_target(scope, name, namespace)
    values = plain_values(values)
    label = scope_label(scope, name, namespace)
    spec_template = template(name, namespace, scope, type, labels, annotations, immutable)
    metadata = {'name': name}
    if namespace:
        metadata['namespace'] = namespace
    # The controller reads the scope from the SealedSecret's own annotations; the template keeps them for the Secret.
    if scope in SCOPE_ANNOTATIONS:
        metadata['annotations'] = {SCOPE_ANNOTATIONS[scope]: 'true'}
    encrypted = {key: base64.b64encode(seal(value, public_key, label)).decode('ascii') for key, value in sorted(values.items())}
    return {'apiVersion': API_VERSION, 'kind': KIND, 'metadata': metadata,
            'spec': {'encryptedData': encrypted, 'template': spec_template}}


# ---------------------------------------------------------------------------------------------- no churn

SERVER_FIELDS = ('uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'ownerReferences')


def keep_decision(existing, wanted, live_secret):
    """``(keep, why)``: keep ``existing`` instead of sealing ``wanted`` again (the rule in the module docstring).

    ``wanted`` is a SealedSecret this module built (its template and keys) with ``values`` ({key: bytes}) beside it:
    ``{'object': <SealedSecret>, 'values': {...}}``. ``why`` says which piece of evidence is missing, never a value.
    """
    if not existing:
        return False, 'there is no SealedSecret yet'
    obj, values = wanted['object'], plain_values(wanted['values'])
    meta, want_meta = existing.get('metadata') or {}, obj['metadata']
    for field in ('name', 'namespace'):
        if meta.get(field) != want_meta.get(field):
            return False, 'its %s differs' % field
    if scope_of(meta.get('annotations')) != scope_of(want_meta.get('annotations')):
        return False, 'its scope differs'
    spec = existing.get('spec') or {}
    if _template_view(spec.get('template')) != _template_view(obj['spec']['template']):
        return False, 'its template (type, labels or annotations) differs'
    if sorted(spec.get('encryptedData') or {}) != sorted(values):
        return False, 'its keys differ'
    status = existing.get('status') or {}
    synced = [c for c in status.get('conditions') or () if c.get('type') == 'Synced']
    if not synced or synced[-1].get('status') != 'True':
        return False, 'the controller has not unsealed it (no Synced condition that is True)'
    if meta.get('generation') is None or status.get('observedGeneration') != meta.get('generation'):
        return False, 'the controller has not unsealed its current generation'
    if not live_secret:
        return False, 'its Secret is not in the cluster'
    owners = (live_secret.get('metadata') or {}).get('ownerReferences') or []
    ours = [o for o in owners if o.get('kind') == KIND]
    if owners and (not ours or (meta.get('uid') and ours[0].get('uid') != meta.get('uid'))):
        return False, 'its Secret is owned by something else'
    try:
        live = {k: base64.b64decode(v, validate=True) for k, v in (live_secret.get('data') or {}).items()}
    except (binascii.Error, ValueError, TypeError):
        return False, 'its Secret\'s data is not base64'
    if live != values:
        return False, 'the values of its Secret differ from the wanted values'
    return True, 'the controller unsealed it into a Secret with exactly the wanted values'


def _template_view(spec_template):
    spec_template = dict(spec_template or {})
    metadata = dict(spec_template.get('metadata') or {})
    return (metadata.get('name'), metadata.get('namespace'), metadata.get('labels') or {},
            {k: v for k, v in (metadata.get('annotations') or {}).items() if k != LAST_APPLIED},
            spec_template.get('type') or 'Opaque', bool(spec_template.get('immutable')))


def without_server_fields(existing):
    """``existing`` as it is written back (to Git or the API): no status and no fields the server sets."""
    metadata = {k: v for k, v in (existing.get('metadata') or {}).items() if k not in SERVER_FIELDS}
    annotations = {k: v for k, v in (metadata.get('annotations') or {}).items() if k != LAST_APPLIED}
    if annotations:
        metadata['annotations'] = annotations
    else:
        metadata.pop('annotations', None)
    return {'apiVersion': existing.get('apiVersion', API_VERSION), 'kind': existing.get('kind', KIND), 'metadata': metadata,
            'spec': existing.get('spec') or {}}
