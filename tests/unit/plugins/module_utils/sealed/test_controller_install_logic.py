"""The pure part of sealed_secrets_install and sealed_secrets_cert: the Flux objects, the proxy path kubeseal uses, the
certificate check and what is said about the keys."""
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets_controller as ctl
from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError

PARAMS = dict(flux_namespace='flux-system', namespace='kube-system', release_name='sealed-secrets', interval='30m0s',
              controller_name='sealed-secrets-controller', chart_repository=ctl.CHART_REPOSITORY)
NOW = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)


def _cert(key, start=NOW - datetime.timedelta(days=1), days=3650):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'sealed-secret')])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope='module')
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_the_release_sets_the_name_kubeseal_looks_for_and_pins_the_chart():
    repository, release = ctl.objects(PARAMS, '2.18.0')
    assert repository['spec']['url'] == 'https://bitnami-labs.github.io/sealed-secrets'
    spec = release['spec']
    assert spec['values'] == {'fullnameOverride': 'sealed-secrets-controller'}
    assert spec['chart']['spec'] == {'chart': 'sealed-secrets', 'version': '2.18.0', 'sourceRef': {
        'kind': 'HelmRepository', 'name': 'sealed-secrets', 'namespace': 'flux-system'}}
    assert release['metadata']['namespace'] == 'kube-system'


@pytest.mark.parametrize('version, accepted', [('2.18.0', '2.18.0'), ('v2.18.4', '2.18.4'), ('2.17.3', None), ('2.18', None),
                                               ('latest', None), (None, None)])
def test_only_the_2_18_line_is_taken(version, accepted):
    if accepted:
        assert ctl.check_version(version) == accepted
    else:
        with pytest.raises(ModuleError) as raised:
            ctl.check_version(version)
        assert raised.value.reason == 'bad_input' and 'nothing was applied' in raised.value.message


def test_the_certificate_path_is_the_service_proxy_path_of_kubeseal():
    assert ctl.cert_path('kube-system', 'sealed-secrets-controller', 'http') == \
        '/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem'


def test_a_controller_certificate_is_described_and_normalised(rsa_key):
    facts = ctl.certificate_facts(_cert(rsa_key) + b'\n\n', now=NOW)
    assert facts['certificate'].startswith('-----BEGIN CERTIFICATE-----') and facts['certificate'].endswith('-----END CERTIFICATE-----\n')
    assert facts['key_size'] == 2048 and facts['subject'] == 'CN=sealed-secret' and len(facts['sha256_fingerprint']) == 64
    assert facts['not_after'] == '2036-11-30T00:00:00Z'  # 3650 days after 2026-12-03 (leap days)


def test_certificates_the_controller_cannot_have_are_refused(rsa_key):
    cases = ((b'-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n', 'bad_certificate'),
             (_cert(ec.generate_private_key(ec.SECP256R1())), 'not_rsa'),
             (_cert(rsa_key, start=NOW - datetime.timedelta(days=20), days=10), 'certificate_expired'),
             (b'\xff\xfe', 'bad_certificate'))
    for pem, reason in cases:
        with pytest.raises(ModuleError) as raised:
            ctl.certificate_facts(pem, now=NOW)
        assert raised.value.reason == reason


def test_key_names_are_oldest_first_and_only_tls_secrets():
    secrets = [{'type': 'kubernetes.io/tls', 'metadata': {'name': 'sealed-secrets-keyb', 'creationTimestamp': '2026-12-02T00:00:00Z'}},
               {'type': 'Opaque', 'metadata': {'name': 'stray', 'creationTimestamp': '2026-12-01T00:00:00Z'}},
               {'type': 'kubernetes.io/tls', 'metadata': {'name': 'sealed-secrets-keya', 'creationTimestamp': '2026-12-01T00:00:00Z'}}]
    assert ctl.key_names(secrets) == ['sealed-secrets-keya', 'sealed-secrets-keyb']
