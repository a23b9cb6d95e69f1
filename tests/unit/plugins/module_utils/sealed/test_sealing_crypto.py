"""Sealing as the controller unseals it: the byte layout, the scope labels, and certificates we refuse."""
import base64
import datetime
import struct

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets as sealing

SCOPES = [('strict', b'apps/db'), ('namespace-wide', b'apps'), ('cluster-wide', b'')]


@pytest.mark.parametrize('scope,label', SCOPES)
def test_the_scope_label_is_the_controllers(scope, label):
    assert sealing.scope_label(scope, 'db', 'apps') == label


@pytest.mark.parametrize('scope,label', SCOPES)
def test_a_sealed_value_unseals_with_the_private_key_and_the_label(controller_key, unseal_raw, scope, label):
    blob = sealing.seal(b'p4ssw0rd', controller_key.public_key(), label)
    (length,) = struct.unpack('>H', blob[:2])
    assert length == 256  # 2048-bit key
    assert len(blob) == 2 + 256 + len(b'p4ssw0rd') + 16  # GCM output is the plaintext's length plus the 16-byte tag
    assert unseal_raw(blob, controller_key, label) == b'p4ssw0rd'


def test_the_controllers_4096_bit_key_gives_a_512_byte_wrapped_key(unseal_raw):
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    blob = sealing.seal(b'', key.public_key(), b'ns/name')
    assert struct.unpack('>H', blob[:2]) == (512,)
    assert unseal_raw(blob, key, b'ns/name') == b''


def test_every_seal_uses_a_fresh_session_key(controller_key):
    first = sealing.seal(b'same', controller_key.public_key(), b'')
    second = sealing.seal(b'same', controller_key.public_key(), b'')
    assert first != second and first[2 + 256:] != second[2 + 256:]


@pytest.mark.parametrize('scope,moved', [
    ('strict', dict(name='db-copy')),
    ('strict', dict(namespace='other')),
    ('namespace-wide', dict(namespace='other')),
])
def test_a_value_moved_out_of_its_scope_does_not_unseal(controller_cert, controller_key, unseal, scope, moved):
    obj = sealing.sealed_secret(sealing.load_certificate(controller_cert), {'password': 'p4ssw0rd'}, 'db', 'apps', scope)
    obj['metadata'].update(moved)
    with pytest.raises(ValueError):  # RSA-OAEP refuses the label before AES-GCM is tried
        unseal(obj, controller_key)


def test_namespace_wide_values_may_be_renamed_and_cluster_wide_moved_anywhere(controller_cert, controller_key, unseal):
    key = sealing.load_certificate(controller_cert)
    renamed = sealing.sealed_secret(key, {'password': 'x'}, 'db', 'apps', 'namespace-wide')
    renamed['metadata']['name'] = 'db-copy'
    moved = sealing.sealed_secret(key, {'password': 'y'}, 'db', 'apps', 'cluster-wide')
    moved['metadata'].update(name='elsewhere', namespace='other')
    assert unseal(renamed, controller_key) == {'password': b'x'}
    assert unseal(moved, controller_key) == {'password': b'y'}


def test_a_tampered_value_does_not_unseal(controller_key, unseal_raw):
    blob = bytearray(sealing.seal(b'secret', controller_key.public_key(), b''))
    blob[-1] ^= 1
    with pytest.raises(InvalidTag):
        unseal_raw(bytes(blob), controller_key, b'')


def test_encrypted_data_is_standard_base64_with_padding(controller_cert):
    obj = sealing.sealed_secret(sealing.load_certificate(controller_cert), {'k': 'v'}, 'db', 'apps')
    text = obj['spec']['encryptedData']['k']
    assert base64.b64encode(base64.b64decode(text, validate=True)).decode() == text
    assert '-' not in text and '_' not in text and len(text) % 4 == 0


def test_the_controllers_certificate_gives_its_public_key(controller_cert, controller_key):
    assert sealing.load_certificate(controller_cert).public_numbers() == controller_key.public_key().public_numbers()
    assert sealing.load_certificate(controller_cert.encode()).key_size == 2048


@pytest.mark.parametrize('text,reason', [
    ('', 'bad_certificate'),
    ('not a certificate', 'bad_certificate'),
    ('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'bad_certificate'),
])
def test_what_is_not_a_certificate_is_refused_in_one_sentence(text, reason):
    with pytest.raises(sealing.SealError) as caught:
        sealing.load_certificate(text)
    assert caught.value.reason == reason
    assert caught.value.message.startswith('The certificate ') and caught.value.message.count('. ') == 0


def test_a_private_key_given_as_the_certificate_is_refused_without_quoting_it(controller_key):
    from cryptography.hazmat.primitives import serialization
    pem = controller_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()
    with pytest.raises(sealing.SealError) as caught:
        sealing.load_certificate(pem)
    assert caught.value.reason == 'bad_certificate'
    assert pem.splitlines()[1][:20] not in str(caught.value)


def test_a_certificate_without_an_rsa_key_is_refused(other_cert):
    with pytest.raises(sealing.SealError) as caught:
        sealing.load_certificate(other_cert)
    assert caught.value.reason == 'not_rsa'
    assert 'holds an elliptic-curve (EC) key, not an RSA key' in caught.value.message


def test_an_expired_certificate_is_refused_with_its_dates(controller_key, make_cert):
    start = datetime.datetime(2020, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)
    pem = make_cert(controller_key, days=30, start=start)
    with pytest.raises(sealing.SealError) as caught:
        sealing.load_certificate(pem)
    assert caught.value.reason == 'certificate_expired'
    assert 'valid from 2020-01-02 03:04 UTC to 2020-02-01 03:04 UTC' in caught.value.message


def test_a_certificate_not_yet_valid_is_refused(controller_key, make_cert):
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    with pytest.raises(sealing.SealError) as caught:
        sealing.load_certificate(make_cert(controller_key, start=start))
    assert caught.value.reason == 'certificate_not_yet_valid'
