# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates made at test time the way Talos makes them: Ed25519 OS CA, roles in O=, one-purpose usages."""

from __future__ import annotations

import base64
import datetime
import ipaddress

import yaml

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
YEAR = datetime.timedelta(days=365)


class Issued:
    """A certificate and its key, with PEM forms."""

    def __init__(self, cert, key):
        self.cert = cert
        self.key = key

    @property
    def cert_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, talos_header=True):
        """PKCS#8 PEM; with Talos' 'ED25519 PRIVATE KEY' label unless asked for the plain one."""
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        if talos_header:
            pem = pem.replace(b'BEGIN PRIVATE KEY', b'BEGIN ED25519 PRIVATE KEY').replace(b'END PRIVATE KEY', b'END ED25519 PRIVATE KEY')
        return pem


def _name(common_name=None, organizations=()):
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, value) for value in organizations]
    if common_name:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def make_ca(organization='talos', common_name=None):
    key = ed25519.Ed25519PrivateKey.generate()
    name = _name(common_name, [organization] if organization else [])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(hours=1))
            .not_valid_after(NOW + 10 * YEAR)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, None))
    return Issued(cert, key)


def issue(ca, common_name=None, roles=(), server_ips=(), not_before=None, not_after=None):
    """A leaf signed by ``ca``: a server certificate when ``server_ips`` are given, else a client one."""
    key = ed25519.Ed25519PrivateKey.generate()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_ips else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (x509.CertificateBuilder().subject_name(_name(common_name, roles)).issuer_name(ca.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - datetime.timedelta(hours=1)).not_valid_after(not_after or NOW + YEAR)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if server_ips:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]), critical=False)
    return Issued(builder.sign(ca.key, None), key)


def talosconfig_text(ca, client, context='lab', endpoints=('127.0.0.1',)):
    """A talosconfig as talosctl writes it (base64 PEM values, Talos' Ed25519 key label)."""
    def b64(data):
        return base64.b64encode(data).decode('ascii')
    return yaml.safe_dump({'context': context, 'contexts': {context: {
        'endpoints': list(endpoints), 'nodes': [], 'ca': b64(ca.cert_pem), 'crt': b64(client.cert_pem),
        'key': b64(client.key_pem())}}})
