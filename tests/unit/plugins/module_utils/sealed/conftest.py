"""A controller of our own for the sealing tests: an RSA key and certificate made here, and an unseal written from the
layout facts (docs/sealed-secrets.md), not from the code under test: parse the uint16 length, RSA-OAEP-SHA256
decrypt with the label, AES-256-GCM decrypt with the zero nonce. The label comes from the SealedSecret's own
metadata, as the controller takes it.
"""
import base64
import datetime
import json
import struct

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from shared_oracles import oracle_path, present


def certificate_pem(private_key, days=3650, start=None):
    """A self-signed certificate as the controller makes one (its key, ten years by default)."""
    start = start or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'sealed-secret')])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .sign(private_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def unseal_bytes(blob, private_key, label):
    (length,) = struct.unpack('>H', blob[:2])
    wrapped, sealed = blob[2:2 + length], blob[2 + length:]
    assert len(wrapped) == length
    session_key = private_key.decrypt(wrapped, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                                                            label=label))
    return AESGCM(session_key).decrypt(b'\x00' * 12, sealed, None)


def controller_label(obj):
    """EncryptionLabel from the SealedSecret's own metadata (cluster-wide is read first)."""
    meta = obj['metadata']
    annotations = meta.get('annotations') or {}
    if annotations.get('sealedsecrets.bitnami.com/cluster-wide') == 'true':
        return b''
    if annotations.get('sealedsecrets.bitnami.com/namespace-wide') == 'true':
        return meta['namespace'].encode()
    return ('%s/%s' % (meta['namespace'], meta['name'])).encode()


def unseal_object(obj, private_key):
    label = controller_label(obj)
    return {key: unseal_bytes(base64.b64decode(value, validate=True), private_key, label)
            for key, value in obj['spec']['encryptedData'].items()}


@pytest.fixture(scope='session')
def controller_key():
    # 2048 bits keeps hundreds of cases fast; one test uses the controller's 4096 bits.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope='session')
def controller_cert(controller_key):
    return certificate_pem(controller_key)


@pytest.fixture(scope='session')
def other_cert():
    return certificate_pem(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def unseal():
    return unseal_object


@pytest.fixture
def unseal_raw():
    return unseal_bytes


@pytest.fixture
def make_cert():
    return certificate_pem


CRD = ('oracles', 'crds', 'bitnami.com', 'sealedsecret_v1alpha1.json')


@pytest.fixture(scope='session')
def sealedsecret_schema():
    """The CRD's schema from ../shared, or None where it is absent (test_the_crd_schema_is_there says so as a skip)."""
    if not present(*CRD):
        return None
    with open(oracle_path(*CRD), encoding='utf-8') as handle:
        return json.load(handle)


@pytest.fixture
def crd_valid(sealedsecret_schema):
    """Validate a SealedSecret against the CRD's schema (metadata is the API server's, not the CRD's).

    Without ../shared only the kind is checked, so that the unseal checks of the same tests still run.
    """
    def check(obj):
        assert obj['apiVersion'] == 'bitnami.com/v1alpha1' and obj['kind'] == 'SealedSecret'
        if sealedsecret_schema is not None:
            jsonschema.validate(obj, sealedsecret_schema)
    return check
