# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys and certificates the way Talos makes them (siderolabs/crypto defaults).

- CAs: self-signed, random 128-bit serial, valid from now for 87600 h (ten years), key usage
  digital signature + certificate sign (critical), extended key usage server + client auth,
  basic constraints CA (critical), a subject key identifier.
- Key encodings: Ed25519 as PKCS#8 under the label ``ED25519 PRIVATE KEY``, ECDSA P-256 as SEC 1
  (``EC PRIVATE KEY``), RSA as PKCS#1 (``RSA PRIVATE KEY``). Python's ``ssl`` wants the Ed25519
  body under ``PRIVATE KEY``: :func:`key_for_python` relabels it.
- Talos API client certificates: signed by the OS CA with a key of the CA's type, the roles in
  the subject Organization, key usage digital signature and extended key usage client auth only
  (Talos refuses a client certificate that also allows server auth).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import re

from .errors import TalosConfigError

CA_VALIDITY = datetime.timedelta(hours=87600)
ROLES = ('os:admin', 'os:operator', 'os:reader', 'os:etcd:backup')
_PEM_RE = re.compile(r'-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)\r?\n-----END \1-----', re.S)
_ED25519_LABEL = 'ED25519 PRIVATE KEY'
_PKCS8_LABEL = 'PRIVATE KEY'


def _crypto():
    """cryptography's modules, imported on first use so that a missing library is a clear error."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:  # pragma: no cover - the collection's requirements install it
        raise TalosConfigError('the Python library cryptography is needed on the controller: pip install cryptography.',
                               reason='missing_library') from None
    return x509, hashes, serialization, ec, ed25519, rsa, ExtendedKeyUsageOID, NameOID


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def pem(label, der):
    body = base64.b64encode(der).decode('ascii')
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ('-----BEGIN %s-----\n%s\n-----END %s-----\n' % (label, '\n'.join(lines), label)).encode('ascii')


def pem_label(data):
    match = _PEM_RE.search(data.decode('ascii', 'replace') if isinstance(data, bytes) else data)
    return match.group(1) if match else None


def encode_private_key(key):
    """PEM of a private key in Talos' encoding for its type."""
    _x509, _hashes, serialization, ec, ed25519, rsa, _eku, _name = _crypto()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return pem(_ED25519_LABEL, der)
    if isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption())
    raise TalosConfigError('unsupported private key type %s.' % type(key).__name__, reason='bad_key')


def key_for_python(key_pem):
    """The same key under a label OpenSSL and Python's ``ssl`` load (Ed25519 → ``PRIVATE KEY``)."""
    text = key_pem.decode('ascii') if isinstance(key_pem, bytes) else key_pem
    return text.replace(_ED25519_LABEL, _PKCS8_LABEL).encode('ascii')


def load_private_key(key_pem, what):
    _x509, _hashes, serialization, _ec, _ed, _rsa, _eku, _name = _crypto()
    try:
        return serialization.load_pem_private_key(key_for_python(key_pem), password=None)
    except (ValueError, TypeError, UnicodeError):
        raise TalosConfigError('%s is not a readable unencrypted PEM private key.' % what, reason='bad_key') from None


def load_certificate(crt_pem, what):
    x509 = _crypto()[0]
    try:
        return x509.load_pem_x509_certificate(crt_pem if isinstance(crt_pem, bytes) else crt_pem.encode('ascii'))
    except (ValueError, TypeError, UnicodeError):
        raise TalosConfigError('%s is not a readable PEM certificate.' % what, reason='bad_certificate') from None


def public_bytes(public_key):
    serialization = _crypto()[2]
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pair(crt_pem, key_pem, what, require_ca=True):
    """Load a certificate and its key, and check they belong together (and form a CA)."""
    x509 = _crypto()[0]
    cert = load_certificate(crt_pem, '%s.crt' % what)
    key = load_private_key(key_pem, '%s.key' % what)
    if public_bytes(cert.public_key()) != public_bytes(key.public_key()):
        raise TalosConfigError('%s.crt does not match %s.key: the certificate was issued for another key.' % (what, what),
                               reason='key_mismatch')
    if require_ca:
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise TalosConfigError('%s.crt is not a CA certificate (basic constraints CA is not set).' % what, reason='not_a_ca')
    return cert, key


def _serial():
    return int.from_bytes(os.urandom(16), 'big') or 1


def new_key(kind, bits=4096):
    _x509, _hashes, _ser, ec, ed25519, rsa, _eku, _name = _crypto()
    if kind == 'ed25519':
        return ed25519.Ed25519PrivateKey.generate()
    if kind == 'ecdsa':
        return ec.generate_private_key(ec.SECP256R1())
    if kind == 'rsa':
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    raise TalosConfigError('unknown key type %s.' % kind, reason='bad_key')


def _signing_hash(key):
    _x509, hashes, _ser, _ec, ed25519, _rsa, _eku, _name = _crypto()
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _name(organizations=(), common_name=None):
    x509, _hashes, _ser, _ec, _ed, _rsa, _eku, name_oid = _crypto()
    attributes = [x509.NameAttribute(name_oid.ORGANIZATION_NAME, org) for org in organizations]
    if common_name:
        attributes.append(x509.NameAttribute(name_oid.COMMON_NAME, common_name))
    return x509.Name(attributes)


def new_ca(kind, organization=None, common_name=None, now=None, validity=CA_VALIDITY):
    """A self-signed CA as Talos makes it; returns ``(crt_pem, key_pem)``."""
    x509, _hashes, serialization, _ec, _ed, _rsa, eku, _n = _crypto()
    now = now or now_utc()
    key = new_key(kind)
    subject = _name([organization] if organization else [], common_name)
    public = key.public_key()
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(subject).public_key(public)
               .serial_number(_serial()).not_valid_before(now).not_valid_after(now + validity)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku.SERVER_AUTH, eku.CLIENT_AUTH]), critical=False)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
    cert = builder.sign(key, _signing_hash(key))
    return cert.public_bytes(serialization.Encoding.PEM), encode_private_key(key)


def new_client_certificate(ca_crt_pem, ca_key_pem, roles, validity, now=None):
    """A Talos API client certificate for ``roles`` signed by the OS CA; ``(crt_pem, key_pem)``."""
    x509, _hashes, serialization, ec, ed25519, rsa, eku, _n = _crypto()
    for role in roles:
        if role not in ROLES:
            raise TalosConfigError('unknown Talos role %s: use one of %s.' % (role, ', '.join(ROLES)), reason='bad_role')
    ca_cert, ca_key = check_pair(ca_crt_pem, ca_key_pem, 'certs.os')
    now = now or now_utc()
    if isinstance(ca_key, ed25519.Ed25519PrivateKey):
        key = new_key('ed25519')
    elif isinstance(ca_key, ec.EllipticCurvePrivateKey):
        key = new_key('ecdsa')
    elif isinstance(ca_key, rsa.RSAPrivateKey):
        key = new_key('rsa')
    else:  # pragma: no cover - check_pair only loads the types above
        raise TalosConfigError('the OS CA key type is not supported.', reason='bad_key')
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (x509.CertificateBuilder()
               .subject_name(_name(list(roles))).issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(_serial()).not_valid_before(now).not_valid_after(now + validity)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku.CLIENT_AUTH]), critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False))
    cert = builder.sign(ca_key, _signing_hash(ca_key))
    return cert.public_bytes(serialization.Encoding.PEM), encode_private_key(key)


def fingerprint(cert):
    serialization = _crypto()[2]
    return 'sha256:' + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    if value is None:  # pragma: no cover - cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def verify_signed_by(cert, ca_cert):
    """True when ``cert`` was signed by ``ca_cert``'s key."""
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
