"""The pure rules of the Flux modules: pins, digests, the Kubernetes floor, URLs, keys and the objects we write."""
import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ansible_collections.hybridops.talos.plugins.module_utils import _flux
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError

SYNC = dict(name='flux-system', namespace='flux-system', url='ssh://git@git.example.net/ops/gitops.git', branch='main',
            path='./clusters/prod', interval='1m0s', kustomization_interval='10m0s', prune=True, secret_name=None,
            known_hosts='git.example.net ssh-ed25519 AAAA\n')


def openssh_key():
    return ed25519.Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                              serialization.NoEncryption()).decode()


def garbled_key(body):
    """A real key made now with its body replaced: the armour of a private key around something unreadable."""
    lines = openssh_key().splitlines()
    return '\n'.join([lines[0], body, lines[-1]]) + '\n'


def encrypted_pem_key():
    return ed25519.Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                              serialization.BestAvailableEncryption(b'pass')).decode()


@pytest.mark.parametrize('text, expected', [('2.7.5', (2, 7, 5)), ('v2.7.5', (2, 7, 5)), (' 2.10.0 ', (2, 10, 0))])
def test_versions_are_read_with_or_without_a_v(text, expected):
    assert _flux.parse_version(text) == expected


@pytest.mark.parametrize('text', ['2.7', 'latest', '', None, '2.7.5-rc.1'])
def test_anything_but_a_release_is_refused(text):
    with pytest.raises(KubeError) as caught:
        _flux.parse_version(text)
    assert caught.value.reason == 'bad_input' and 'is not a Flux release such as 2.7.5' in caught.value.message


@pytest.mark.parametrize('flux, kubernetes, refused', [
    ((2, 7, 5), 'v1.32.4', False), ((2, 7, 0), 'v1.31.9', True), ((2, 8, 0), 'v1.32.4', True), ((2, 9, 4), 'v1.33.0', False),
    ((2, 6, 4), 'v1.31.0', False), ((2, 5, 0), 'v1.29.9', True), ((2, 7, 5), 'unknown', False)])
def test_the_kubernetes_floor_is_flux_check_s(flux, kubernetes, refused):
    if not refused:
        _flux.check_kubernetes(flux, {'gitVersion': kubernetes})
        return
    with pytest.raises(KubeError) as caught:
        _flux.check_kubernetes(flux, {'gitVersion': kubernetes})
    assert caught.value.reason == 'kubernetes_too_old' and kubernetes in caught.value.message


def test_flux_2_8_on_kubernetes_1_32_points_at_2_7():
    with pytest.raises(KubeError) as caught:
        _flux.check_kubernetes((2, 8, 0), {'gitVersion': 'v1.32.4'})
    assert 'Flux 2.8.0 needs Kubernetes 1.33 or newer' in caught.value.message and 'use Flux 2.7.x' in caught.value.message


def test_the_release_url_follows_github_s_layout():
    assert _flux.install_url(None, (2, 7, 5)) == 'https://github.com/fluxcd/flux2/releases/download/v2.7.5/install.yaml'
    assert _flux.install_url('http://127.0.0.1:8/x/', (2, 7, 5)) == 'http://127.0.0.1:8/x/v2.7.5/install.yaml'


def test_digests_are_normalised_and_checked():
    digest = hashlib.sha256(b'manifest').hexdigest()
    assert _flux.check_sha256('sha256:' + digest.upper()) == digest
    assert _flux.verify(b'manifest', digest, 'here') == digest
    assert _flux.verify(b'manifest', None, 'here') == digest
    for bad in ('abc', 'g' * 64, digest + '0'):
        with pytest.raises(KubeError):
            _flux.check_sha256(bad)


def test_a_digest_that_differs_is_one_sentence_naming_both():
    with pytest.raises(KubeError) as caught:
        _flux.verify(b'tampered', '0' * 64, 'http://mirror/install.yaml')
    error = caught.value
    assert error.reason == 'checksum_mismatch' and error.failure['expected'] == '0' * 64
    assert error.failure['actual'] == hashlib.sha256(b'tampered').hexdigest()
    assert error.message.endswith('.') and error.message.count('. ') == 0 and 'nothing was applied' in error.message


def test_the_manifest_header_names_its_version():
    assert _flux.manifest_version('---\n# Flux Version: v2.7.5\n# Components: source-controller\n') == '2.7.5'
    assert _flux.manifest_version('apiVersion: v1\n') is None


def test_flux_objects_are_the_labelled_crds_and_controllers():
    labels = {'app.kubernetes.io/part-of': 'flux'}
    objects = [{'kind': 'CustomResourceDefinition', 'metadata': {'name': 'a.b', 'labels': labels}},
               {'kind': 'Deployment', 'metadata': {'name': 'source-controller', 'namespace': 'flux-system', 'labels': labels},
                'spec': {'template': {'spec': {'containers': [{'image': 'ghcr.io/fluxcd/source-controller:v1.7.4'}]}}}},
               {'kind': 'Deployment', 'metadata': {'name': 'other', 'namespace': 'flux-system'}}]
    crds, deployments = _flux.flux_objects(objects, 'flux-system')
    assert crds == ['a.b'] and [d['metadata']['name'] for d in deployments] == ['source-controller']
    assert _flux.images(deployments[0]) == ['ghcr.io/fluxcd/source-controller:v1.7.4']


@pytest.mark.parametrize('url, message', [
    ('git@github.com:org/repo.git', 'write ssh://git@github.com/org/repo.git'),
    ('ftp://x/y', 'is not an ssh://, https:// or http:// Git URL'),
    ('', 'is not an ssh://')])
def test_urls_flux_cannot_take_are_refused_with_the_fix(url, message):
    with pytest.raises(KubeError) as caught:
        _flux.check_url(url)
    assert message in caught.value.message


@pytest.mark.parametrize('value', ['1m0s', '10m', '1h30m', '500ms'])
def test_durations(value):
    _flux.check_duration(value, 'interval')


def test_a_bad_duration_is_refused():
    with pytest.raises(KubeError):
        _flux.check_duration('ten minutes', 'interval')


def test_the_public_key_is_derived_and_pem_keys_work_too():
    assert _flux.public_key_of(openssh_key()).startswith('ssh-ed25519 ')
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    assert _flux.public_key_of(pem).startswith('ssh-rsa ')


@pytest.mark.parametrize('make, message', [
    (lambda: 'canary-not-a-key', 'no "PRIVATE KEY" block'),
    (encrypted_pem_key, 'protected by a passphrase'),
    (lambda: garbled_key('canaryGARBAGE'), 'cannot be read')])
def test_unusable_keys_are_refused_without_quoting_them(make, message):
    key = make()
    with pytest.raises(KubeError) as caught:
        _flux.public_key_of(key)
    assert message in caught.value.message
    assert 'canary' not in caught.value.message and 'canary' not in str(caught.value.failure)


def test_known_hosts_must_be_host_key_lines():
    assert _flux.check_known_hosts('# comment\n github.com ssh-ed25519 AAAA \n') == 'github.com ssh-ed25519 AAAA\n'
    with pytest.raises(KubeError):
        _flux.check_known_hosts('github.com')


def test_the_sync_objects_are_what_flux_bootstrap_leaves():
    key = openssh_key()
    secret, repository, kustomization = _flux.sync_objects(dict(SYNC, ssh_private_key=key), 'ssh-ed25519 AAAA')
    assert secret['kind'] == 'Secret' and sorted(secret['data']) == ['identity', 'identity.pub', 'known_hosts']
    assert base64.b64decode(secret['data']['identity']).decode() == key
    assert repository['spec'] == {'interval': '1m0s', 'url': SYNC['url'], 'ref': {'branch': 'main'}, 'secretRef': {'name': 'flux-system'}}
    assert kustomization['spec'] == {'interval': '10m0s', 'path': './clusters/prod', 'prune': True,
                                     'sourceRef': {'kind': 'GitRepository', 'name': 'flux-system'}}


def test_a_public_https_repository_needs_no_secret():
    objects = _flux.sync_objects(dict(SYNC, url='https://github.com/org/repo.git', ssh_private_key=None))
    assert [o['kind'] for o in objects] == ['GitRepository', 'Kustomization'] and 'secretRef' not in objects[0]['spec']
    named = _flux.sync_objects(dict(SYNC, ssh_private_key=None, secret_name='deploy-key'))
    assert named[0]['spec']['secretRef'] == {'name': 'deploy-key'}
