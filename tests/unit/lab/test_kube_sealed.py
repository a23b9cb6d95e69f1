"""The lab's Sealed Secrets controller (lab/kube/sealed.py) and the service proxy's name rules (lab/kube/proxy.py).

The lab unseals with code of its own; here it unseals what the collection's filter seals, so each side checks the
other (the integration test does the same through the API)."""
import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets as sealing
from lab.kube import charts, proxy, sealed


@pytest.fixture(scope='module')
def key_secret():
    return sealed.new_key_secret('sealed-secrets-key', 'kube-system')


def _keys(secret):
    return [serialization.load_pem_private_key(base64.b64decode(secret['data']['tls.key']), password=None)]


def _public(secret):
    return sealing.load_certificate(base64.b64decode(secret['data']['tls.crt']))


def _as_stored(obj, uid='u-1'):
    obj = dict(obj, metadata=dict(obj['metadata'], uid=uid))
    obj['metadata'].setdefault('namespace', 'default')
    return obj


def test_the_key_secret_is_the_controllers_shape(key_secret):
    assert key_secret['type'] == 'kubernetes.io/tls'
    assert key_secret['metadata'] == {'generateName': 'sealed-secrets-key', 'namespace': 'kube-system',
                                      'labels': {'sealedsecrets.bitnami.com/sealed-secrets-key': 'active'}}
    cert = x509.load_pem_x509_certificate(base64.b64decode(key_secret['data']['tls.crt']))
    assert cert.public_key().key_size == 4096
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 3650
    pem = base64.b64decode(key_secret['data']['tls.key'])  # made at test time by the fixture
    assert pem.split(b'\n', 1)[0].split()[1] == b'RSA'  # PKCS#1, the controller's format
    assert serialization.load_pem_private_key(pem, None).key_size == 4096


def test_values_sealed_by_the_filter_unseal_in_each_scope_and_not_outside_it(key_secret):
    public, keys = _public(key_secret), _keys(key_secret)
    for scope, moved_ok, moved_bad in (('strict', None, ('other', 'app')),
                                       ('namespace-wide', ('other', 'app'), ('db', 'elsewhere')),
                                       ('cluster-wide', ('other', 'elsewhere'), None)):
        obj = _as_stored(sealing.sealed_secret(public, {'password': b'p', 'user': b'u'}, 'db', 'app', scope=scope))
        data, error = sealed.unseal(obj, keys)
        assert error is None and data == {'password': b'p', 'user': b'u'}
        if moved_ok:
            moved = _as_stored(dict(obj, metadata=dict(obj['metadata'], name=moved_ok[0], namespace=moved_ok[1])))
            assert sealed.unseal(moved, keys)[0] == {'password': b'p', 'user': b'u'}
        if moved_bad:
            moved = _as_stored(dict(obj, metadata=dict(obj['metadata'], name=moved_bad[0], namespace=moved_bad[1])))
            assert sealed.unseal(moved, keys) == (None, 'no key could decrypt secret (password, user)')


def test_another_key_does_not_unseal(key_secret):
    other = sealed.new_key_secret('sealed-secrets-key', 'kube-system')
    obj = _as_stored(sealing.sealed_secret(_public(other), {'a': b'1'}, 'db', 'app'))
    assert sealed.unseal(obj, _keys(key_secret)) == (None, 'no key could decrypt secret (a)')
    assert sealed.unseal(obj, _keys(key_secret) + _keys(other))[0] == {'a': b'1'}  # every key is tried


def test_the_secret_takes_the_template_and_is_owned_by_the_sealed_secret(key_secret):
    obj = _as_stored(sealing.sealed_secret(_public(key_secret), {'a': b'1'}, 'db', 'app', type='kubernetes.io/basic-auth',
                                           labels={'team': 'x'}))
    secret = sealed.secret_for(obj, {'a': b'1'})
    assert secret['type'] == 'kubernetes.io/basic-auth' and secret['metadata']['labels'] == {'team': 'x'}
    assert secret['data'] == {'a': 'MQ=='}
    assert secret['metadata']['ownerReferences'] == [{'apiVersion': 'bitnami.com/v1alpha1', 'kind': 'SealedSecret', 'name': 'db',
                                                      'uid': 'u-1', 'controller': True}]


def test_garbage_is_not_unsealed():
    obj = {'metadata': {'name': 'x', 'namespace': 'y', 'uid': 'u'}, 'spec': {'encryptedData': {'k': 'not base64!', 'j': 'AAE='}}}
    assert sealed.unseal(obj, []) == (None, 'no key could decrypt secret (j, k)')


def test_the_chart_renders_the_names_kubeseal_expects():
    objects = {(o['kind'], o['metadata']['name']): o for o in charts.render(
        'sealed-secrets', 'sealed-secrets', 'kube-system', '2.18.0', {'fullnameOverride': 'sealed-secrets-controller'})}
    deployment = objects[('Deployment', 'sealed-secrets-controller')]
    container = deployment['spec']['template']['spec']['containers'][0]
    assert container['image'] == 'docker.io/bitnami/sealed-secrets-controller:0.36.0'
    assert container['args'] == ['--update-status', '--key-prefix', 'sealed-secrets-key']
    service = objects[('Service', 'sealed-secrets-controller')]
    assert service['spec']['ports'] == [{'name': 'http', 'port': 8080, 'targetPort': 'http'}]
    assert service['spec']['selector'] == deployment['spec']['selector']['matchLabels'] == {
        'app.kubernetes.io/name': 'sealed-secrets', 'app.kubernetes.io/instance': 'sealed-secrets'}
    assert ('CustomResourceDefinition', 'sealedsecrets.bitnami.com') in objects
    without = {o['metadata']['name'] for o in charts.render('sealed-secrets', 'sealed-secrets', 'kube-system', '2.18.0', {})}
    assert 'sealed-secrets' in without  # the chart's own name, which kubeseal does not look for


@pytest.mark.parametrize('text, parts', [('http:sealed-secrets-controller:http', ('http', 'sealed-secrets-controller', 'http')),
                                         ('sealed-secrets-controller:8080', ('', 'sealed-secrets-controller', '8080')),
                                         ('sealed-secrets-controller', ('', 'sealed-secrets-controller', ''))])
def test_the_service_proxy_splits_names_as_kube_does(text, parts):
    assert proxy.split_name(text) == parts
