"""The certificates a node makes: the maintenance certificate at boot, the API certificate from the
machine config's OS CA, and the admin kubeconfig from the cluster's Kubernetes CA.

Keys are generated at run time and live only in the node's 0700 directory (or memory).
"""
import base64
import datetime
import gzip
import io
import ipaddress
import os
import ssl
import tarfile

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAINTENANCE_CN = 'maintenance-service.talos.dev'
ALPN = ['h2']


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def load_pem_key(pem):
    """A private key from PEM, including siderolabs' ``ED25519 PRIVATE KEY`` header over a PKCS#8 body."""
    pem = pem.replace(b'ED25519 PRIVATE KEY', b'PRIVATE KEY')
    return serialization.load_pem_private_key(pem, password=None)


def b64pem(value):
    return base64.b64decode(value)


def _sign_hash(key):
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _new_key_like(ca_key):
    if isinstance(ca_key, ed25519.Ed25519PrivateKey):
        return ed25519.Ed25519PrivateKey.generate()
    if isinstance(ca_key, rsa.RSAPrivateKey):
        return rsa.generate_private_key(65537, 2048)
    return ec.generate_private_key(ec.SECP256R1())


def _sans(addresses, names):
    entries = []
    for value in list(addresses) + list(names):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            entries.append(x509.DNSName(value))
    # Unique, order kept: a SAN list with duplicates is legal but confusing to read.
    seen, unique = set(), []
    for entry in entries:
        if entry not in seen:
            seen.add(entry)
            unique.append(entry)
    return unique


def issue(ca_cert, ca_key, common_name, sans, usage, organizations=(), days=365, key=None):
    key = key or _new_key_like(ca_key)
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = (x509.CertificateBuilder().subject_name(x509.Name(subject)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(_now() - datetime.timedelta(minutes=5)).not_valid_after(_now() + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, _sign_hash(ca_key)), key


def self_signed_ca(common_name):
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5)).not_valid_after(_now() + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, None))
    return cert, key


def pem_pair(cert, key):
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def maintenance_pair(addresses, hostname):
    """Talos' maintenance certificate: an in-memory root made at boot, CN maintenance-service.talos.dev,
    SANs the node addresses, loopback and the hostname."""
    ca_cert, ca_key = self_signed_ca('maintenance-root')
    cert, key = issue(ca_cert, ca_key, MAINTENANCE_CN, _sans(list(addresses) + ['127.0.0.1', '::1'], [hostname]),
                      ExtendedKeyUsageOID.SERVER_AUTH)
    return pem_pair(cert, key)


def api_pair(ca_crt_pem, ca_key_pem, addresses, cert_sans, hostname, version):
    """The API (apid) certificate from the OS CA: SANs = certSANs + node addresses (+127.0.0.1 on v1.13) + hostname."""
    ca_cert = x509.load_pem_x509_certificate(ca_crt_pem)
    ca_key = load_pem_key(ca_key_pem)
    ips = [str(v) for v in cert_sans or ()] + list(addresses) + (['127.0.0.1'] if version != 'v1.9.6' else [])
    cert, key = issue(ca_cert, ca_key, hostname, _sans(ips, [hostname]), ExtendedKeyUsageOID.SERVER_AUTH)
    return pem_pair(cert, key)


def write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)


def server_context(directory, cert_pem, key_pem, client_ca_pem=None, version='v1.9.6'):
    """TLS as apid serves it: TLS 1.2+, ALPN h2, no session tickets, client certificates required and
    verified against the OS CA once configured (none in maintenance mode)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_TICKET
    if version == 'v1.9.6':
        # siderolabs/crypto v0.5.0: X25519 only and one TLS 1.2 suite (talos-api.md section 8).
        context.set_ecdh_curve('X25519')
        context.set_ciphers('ECDHE-ECDSA-AES256-GCM-SHA384')
    crt_path, key_path = os.path.join(directory, 'api.crt'), os.path.join(directory, 'api.key')
    write_private(crt_path, cert_pem)
    write_private(key_path, key_pem)
    context.load_cert_chain(crt_path, key_path)
    if client_ca_pem is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=client_ca_pem.decode('ascii'))
    else:
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(ALPN)
    return context


def kubeconfig(cluster_name, endpoint, k8s_ca_pem, k8s_key_pem):
    """An admin kubeconfig as Talos makes it: client cert O=system:masters signed by the cluster CA."""
    ca_cert = x509.load_pem_x509_certificate(k8s_ca_pem)
    ca_key = load_pem_key(k8s_key_pem)
    cert, key = issue(ca_cert, ca_key, 'admin', [], ExtendedKeyUsageOID.CLIENT_AUTH, organizations=('system:masters',))
    cert_pem, key_pem = pem_pair(cert, key)
    user = context = 'admin@%s' % cluster_name

    def encode(data):
        return base64.b64encode(data).decode('ascii')
    document = {
        'apiVersion': 'v1', 'kind': 'Config',
        'clusters': [{'name': cluster_name, 'cluster': {'server': endpoint, 'certificate-authority-data': encode(k8s_ca_pem)}}],
        'users': [{'name': user, 'user': {'client-certificate-data': encode(cert_pem), 'client-key-data': encode(key_pem)}}],
        'contexts': [{'context': {'cluster': cluster_name, 'namespace': 'default', 'user': user}, 'name': context}],
        'current-context': context,
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


def kubeconfig_archive(content):
    """What the Kubeconfig call streams: a gzip'd tar with one file ``kubeconfig`` (mode 0600)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        info = tarfile.TarInfo('kubeconfig')
        info.size, info.mode, info.mtime = len(content), 0o600, int(_now().timestamp())
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue())


def peer_roles(cert_der):
    """The Talos roles of a client certificate: each Organization value (trimmed, empty ones ignored)."""
    cert = x509.load_der_x509_certificate(cert_der)
    return {attr.value.strip() for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) if attr.value.strip()}


def client_only_usage(cert_der):
    """Talos' ExtKeyUsage check: a client leaf must carry exactly [ClientAuth]."""
    cert = x509.load_der_x509_certificate(cert_der)
    try:
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return False
    return usages == [ExtendedKeyUsageOID.CLIENT_AUTH]
