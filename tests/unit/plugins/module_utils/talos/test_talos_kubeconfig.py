"""Kubeconfig equivalence: when the file on disk still does the job (pure logic; certificates made at test time)."""
import base64
import datetime

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.hybridops.talos.plugins.module_utils._talos import kubeconfig as kc

NOW = datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc)


def _cert(subject, issuer_name, issuer_key, key, days, ca=False):
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


def _b64(cert):
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


@pytest.fixture(scope='module')
def pki():
    ca_key, other_key, user_key = (ec.generate_private_key(ec.SECP256R1()) for _key in range(3))
    ca = _cert('kubernetes', 'kubernetes', ca_key, ca_key, 3650, ca=True)
    other_ca = _cert('kubernetes', 'kubernetes-2', other_key, other_key, 3650, ca=True)
    return {'ca': _b64(ca), 'other_ca': _b64(other_ca),
            'user': _b64(_cert('admin', 'kubernetes', ca_key, user_key, 365)),
            'user_soon': _b64(_cert('admin', 'kubernetes', ca_key, user_key, 10)),
            'user_foreign': _b64(_cert('admin', 'someone-else', other_key, user_key, 365))}


def kubeconfig(ca, cert, server='https://192.0.2.1:6443', context='admin@lab'):
    return yaml.safe_dump({
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': context,
        'clusters': [{'name': 'lab', 'cluster': {'server': server, 'certificate-authority-data': ca}}],
        'contexts': [{'name': context, 'context': {'cluster': 'lab', 'user': 'admin@lab'}}],
        'users': [{'name': 'admin@lab', 'user': {'client-certificate-data': cert, 'client-key-data': 'S3CR3T-KEY'}}]})


def test_fresh_certificate_every_call_is_not_a_change(pki):
    current = kc.parse(kubeconfig(pki['ca'], pki['user']), 'disk')
    fresh = kc.parse(kubeconfig(pki['ca'], pki['user'] + ''), 'talos')
    assert kc.still_good(current, fresh, datetime.timedelta(hours=720), now=NOW) == (True, '')


@pytest.mark.parametrize('disk,talos,reason', [
    (('ca', 'user_soon'), ('ca', 'user'), 'expires on'),
    (('ca', 'user_foreign'), ('ca', 'user'), 'was not issued by the cluster CA'),
    (('other_ca', 'user'), ('ca', 'user'), 'the cluster CA changed'),
])
def test_reasons_to_rewrite(pki, disk, talos, reason):
    current = kc.parse(kubeconfig(pki[disk[0]], pki[disk[1]]), 'disk')
    fresh = kc.parse(kubeconfig(pki[talos[0]], pki[talos[1]]), 'talos')
    good, why = kc.still_good(current, fresh, datetime.timedelta(hours=720), now=NOW)
    assert not good and reason in why


def test_server_change_is_a_reason(pki):
    current = kc.parse(kubeconfig(pki['ca'], pki['user']), 'disk')
    fresh = kc.parse(kubeconfig(pki['ca'], pki['user'], server='https://vip:6443'), 'talos')
    assert kc.still_good(current, fresh, datetime.timedelta(hours=720), now=NOW) == (
        False, 'the API server changed from https://192.0.2.1:6443 to https://vip:6443')


def test_redacted_text_hides_credentials(pki):
    data = kc.parse(kubeconfig(pki['ca'], pki['user']), 'disk')['data']
    text = kc.redacted_text(data)
    assert 'S3CR3T-KEY' not in text and pki['user'] not in text and '<redacted>' in text
    assert set(kc.secret_values(data)) == {pki['user'], 'S3CR3T-KEY'}


def test_incomplete_kubeconfig_refused():
    with pytest.raises(kc.TalosConfigError, match='has no complete current context'):
        kc.parse('apiVersion: v1\nclusters: []\n', 'disk')
