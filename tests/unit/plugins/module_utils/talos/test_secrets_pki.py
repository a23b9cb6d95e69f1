"""The secrets bundle and client certificates, checked by independent tools (openssl, cryptography)."""
import base64
import datetime
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.hybridops.talos.plugins.module_utils._talos import pki, secrets, talosconfig
from ansible_collections.hybridops.talos.plugins.module_utils._talos.errors import TalosConfigError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.yamlio import load_documents

from talos_oracles import read_fixture

TEN_YEARS = datetime.timedelta(hours=87600)


@pytest.fixture(scope='module')
def bundle():
    return secrets.generate_bundle((1, 9))


def pem_of(value):
    return base64.b64decode(value)


def cert_of(bundle, name):
    return x509.load_pem_x509_certificate(pem_of(bundle['certs'][name]['crt']))


def openssl_text(pem):
    return subprocess.run(['openssl', 'x509', '-noout', '-text'], input=pem, capture_output=True, check=True).stdout.decode()


@pytest.mark.parametrize('name, key_type, org, cn', [
    ('os', ed25519.Ed25519PublicKey, 'talos', None),
    ('etcd', ec.EllipticCurvePublicKey, 'etcd', None),
    ('k8s', ec.EllipticCurvePublicKey, 'kubernetes', None),
    ('k8saggregator', ec.EllipticCurvePublicKey, None, 'front-proxy'),
])
def test_each_ca_has_talos_key_type_subject_usages_and_ten_year_life(bundle, name, key_type, org, cn):
    cert = cert_of(bundle, name)
    assert isinstance(cert.public_key(), key_type)
    if isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        assert cert.public_key().curve.name == 'secp256r1'
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    assert orgs == ([org] if org else []) and cns == ([cn] if cn else [])
    assert cert.issuer == cert.subject
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.digital_signature
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == TEN_YEARS
    cert.verify_directly_issued_by(cert)
    text = openssl_text(pem_of(bundle['certs'][name]['crt']))
    assert 'CA:TRUE' in text and 'Certificate Sign' in text


def test_key_encodings_are_talos_pem_labels(bundle):
    labels = {name: pki.pem_label(pem_of(pair['key'])) for name, pair in bundle['certs'].items()}
    assert labels == {'etcd': 'EC PRIVATE KEY', 'k8s': 'EC PRIVATE KEY', 'k8saggregator': 'EC PRIVATE KEY',
                      'k8sserviceaccount': 'RSA PRIVATE KEY', 'os': 'ED25519 PRIVATE KEY'}
    sa_key = pki.load_private_key(pem_of(bundle['certs']['k8sserviceaccount']['key']), 'sa')
    assert isinstance(sa_key, rsa.RSAPrivateKey) and sa_key.key_size == 4096


def test_openssl_reads_the_ed25519_key_once_relabelled(bundle):
    key = pki.key_for_python(pem_of(bundle['certs']['os']['key']))
    out = subprocess.run(['openssl', 'pkey', '-noout', '-text'], input=key, capture_output=True, check=True).stdout
    assert b'ED25519 Private-Key' in out


def test_service_account_key_is_ecdsa_before_contract_1_7():
    old = secrets.generate_bundle((1, 6))
    key = pki.load_private_key(pem_of(old['certs']['k8sserviceaccount']['key']), 'sa')
    assert isinstance(key, ec.EllipticCurvePrivateKey)


def test_tokens_and_random_values_have_talos_formats(bundle):
    assert secrets.TOKEN_RE.match(bundle['secrets']['bootstraptoken'])
    assert secrets.TOKEN_RE.match(bundle['trustdinfo']['token'])
    assert len(base64.urlsafe_b64decode(bundle['cluster']['id'])) == 32
    assert len(base64.b64decode(bundle['cluster']['secret'])) == 32
    assert len(base64.b64decode(bundle['secrets']['secretboxencryptionsecret'])) == 32
    assert len({secrets.new_token() for _attempt in range(50)}) == 50


def test_generated_bundle_reloads_through_the_talosctl_layout(bundle):
    reloaded = secrets.parse_bundle(secrets.dump_bundle(bundle), 'generated')
    assert reloaded == bundle
    assert list(reloaded) == ['cluster', 'secrets', 'trustdinfo', 'certs']


def test_talosctl_made_bundle_loads_and_checks():
    bundle = secrets.parse_bundle(read_fixture('secrets', 'secrets.yaml'), 'fixture')
    assert bundle['trustdinfo']['token'] == 'oamejv.9tk1nhuwnlc2nghf'


@pytest.mark.parametrize('role', pki.ROLES)
def test_client_certificate_is_ed25519_signed_by_os_ca_for_client_auth_only(bundle, role):
    context = talosconfig.build_context(bundle, role, ['203.0.113.10'], [], datetime.timedelta(days=365))
    cert = x509.load_pem_x509_certificate(pem_of(context['crt']))
    ca = cert_of(bundle, 'os')
    cert.verify_directly_issued_by(ca)
    assert isinstance(cert.public_key(), ed25519.Ed25519PublicKey)
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [role]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=365)
    key = pki.load_private_key(pem_of(context['key']), 'key')
    assert pki.public_bytes(key.public_key()) == pki.public_bytes(cert.public_key())
    assert context['ca'] == bundle['certs']['os']['crt']


def test_openssl_verifies_the_client_certificate_chain(bundle, tmp_path):
    context = talosconfig.build_context(bundle, 'os:reader', ['a'], [], datetime.timedelta(days=1))
    (tmp_path / 'ca.pem').write_bytes(pem_of(bundle['certs']['os']['crt']))
    (tmp_path / 'client.pem').write_bytes(pem_of(context['crt']))
    proc = subprocess.run(['openssl', 'verify', '-purpose', 'sslclient', '-CAfile', str(tmp_path / 'ca.pem'),
                           str(tmp_path / 'client.pem')], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(['openssl', 'verify', '-purpose', 'sslserver', '-CAfile', str(tmp_path / 'ca.pem'),
                           str(tmp_path / 'client.pem')], capture_output=True, text=True, check=False)
    assert proc.returncode != 0  # not usable as a server certificate


def test_existing_context_is_kept_until_it_no_longer_fits(bundle):
    context = talosconfig.build_context(bundle, 'os:admin', ['a'], ['n'], datetime.timedelta(days=365))
    keep = talosconfig.why_renew(context, bundle, 'os:admin', ['a'], ['n'], datetime.timedelta(days=30))
    assert keep == []
    assert talosconfig.why_renew(context, bundle, 'os:reader', ['a'], ['n'], datetime.timedelta(days=30)) == \
        ['its role is os:admin, not os:reader']
    assert 'expires' in talosconfig.why_renew(context, bundle, 'os:admin', ['a'], ['n'], datetime.timedelta(days=400))[0]
    other = secrets.generate_bundle((1, 9))
    reasons = talosconfig.why_renew(context, other, 'os:admin', ['a'], ['n'], datetime.timedelta(days=30))
    assert 'its certificate is not signed by the cluster OS CA' in reasons


def test_a_certificate_that_does_not_match_its_key_is_refused(bundle):
    broken = {section: dict(values) for section, values in bundle.items()}
    broken['certs'] = {name: dict(pair) for name, pair in bundle['certs'].items()}
    broken['certs']['etcd']['key'] = bundle['certs']['k8s']['key']
    with pytest.raises(TalosConfigError, match=r'certs\.etcd\.crt does not match certs\.etcd\.key'):
        secrets.check_bundle(broken, 'broken.yaml')


def test_secret_values_cover_raw_decoded_and_pem_lines(bundle):
    values = secrets.secret_values(bundle)
    key_pem = pem_of(bundle['certs']['os']['key']).decode()
    assert bundle['certs']['os']['key'] in values and key_pem.strip() in values
    assert all(line in values for line in key_pem.splitlines() if not line.startswith('-----'))
    assert bundle['cluster']['secret'] in values and bundle['trustdinfo']['token'] in values
    assert bundle['certs']['os']['crt'] not in values  # certificates are public


def test_bundle_from_decoder_example_config_uses_aescbc():
    rebuilt = secrets.bundle_from_machineconfig(read_fixture('decoder', 'controlplane.yaml'), 'controlplane.yaml')
    config = load_documents(read_fixture('decoder', 'controlplane.yaml'), 'cp')[0]
    assert rebuilt['secrets'] == {'bootstraptoken': config['cluster']['token'],
                                  'aescbcencryptionsecret': config['cluster']['aescbcEncryptionSecret']}
