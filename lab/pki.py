"""The lab's own certificate authority and the server certificates it signs.

Clients are given the CA file (``PROXMOX_CA_FILE``) instead of ``verify=False``: this machine sets
``REQUESTS_CA_BUNDLE``, which overrides ``verify=False`` in requests, and a real setup verifies too.
"""
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 30


def _write(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(directory, name='hybridops lab CA'):
    """Write ca.crt (0644) and ca.key (0600) into ``directory``; return their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    crt_path, key_path = os.path.join(directory, 'ca.crt'), os.path.join(directory, 'ca.key')
    _write(crt_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(key_path, _key_pem(key), 0o600)
    return crt_path, key_path


def issue(directory, name, hosts, ca_crt, ca_key):
    """Write ``<name>.crt`` and ``<name>.key`` (0600), a server certificate for ``hosts`` signed by the CA."""
    with open(ca_crt, 'rb') as handle:
        ca_cert = x509.load_pem_x509_certificate(handle.read())
    with open(ca_key, 'rb') as handle:
        ca_private = serialization.load_pem_private_key(handle.read(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_private.public_key()), critical=False)
            .sign(ca_private, hashes.SHA256()))
    crt_path, key_path = os.path.join(directory, name + '.crt'), os.path.join(directory, name + '.key')
    _write(crt_path, cert.public_bytes(serialization.Encoding.PEM), 0o600)
    _write(key_path, _key_pem(key), 0o600)
    return crt_path, key_path
