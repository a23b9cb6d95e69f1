"""The SealedSecret objects we build: scopes and annotations, the CRD's schema, bad input, and never a value in an error."""
import base64
import random
import string

import jsonschema
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets as sealing
from shared_oracles import oracle_path, skip_reason

CANARY = 'canary-Zq7-do-not-print'
NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide'
CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide'


@pytest.fixture(scope='module')
def public_key(controller_cert):
    return sealing.load_certificate(controller_cert)


def test_the_crd_schema_is_there_to_validate_against(sealedsecret_schema):
    """Every object these tests build is validated against the CRD; this test makes a missing ../shared visible."""
    oracle_path('oracles', 'crds', 'bitnami.com', 'sealedsecret_v1alpha1.json')
    assert sealedsecret_schema['properties']['spec']['required'] == ['encryptedData']


def test_a_schema_violation_is_caught(crd_valid, sealedsecret_schema):
    if sealedsecret_schema is None:
        pytest.skip(skip_reason('oracles', 'crds', 'bitnami.com', 'sealedsecret_v1alpha1.json'))
    with pytest.raises(jsonschema.ValidationError):
        crd_valid({'apiVersion': 'bitnami.com/v1alpha1', 'kind': 'SealedSecret', 'metadata': {'name': 'x'},
                   'spec': {'encryptedData': {}, 'template': {'metadata': {'creationTimestamp': None}}}})


def test_a_strict_sealed_secret_is_what_kubeseal_writes(public_key, controller_key, unseal, crd_valid):
    obj = sealing.sealed_secret(public_key, {'password': 'p4ss', 'tls.crt': b'\x00\xff'}, 'db', 'apps', 'strict',
                                type='kubernetes.io/tls', labels={'app': 'db'}, annotations={'team': 'ops'})
    crd_valid(obj)
    assert obj['metadata'] == {'name': 'db', 'namespace': 'apps'}
    assert obj['spec']['template'] == {'metadata': {'name': 'db', 'namespace': 'apps', 'labels': {'app': 'db'},
                                                    'annotations': {'team': 'ops'}}, 'type': 'kubernetes.io/tls'}
    assert unseal(obj, controller_key) == {'password': b'p4ss', 'tls.crt': b'\x00\xff'}


@pytest.mark.parametrize('scope,annotation', [('namespace-wide', NAMESPACE_WIDE), ('cluster-wide', CLUSTER_WIDE)])
def test_wider_scopes_carry_the_annotation_the_controller_reads(public_key, controller_key, unseal, crd_valid, scope, annotation):
    obj = sealing.sealed_secret(public_key, {'token': 't'}, 'db', 'apps', scope, annotations={NAMESPACE_WIDE: 'true', CLUSTER_WIDE: 'true'})
    crd_valid(obj)
    assert obj['metadata']['annotations'] == {annotation: 'true'}
    assert obj['spec']['template']['metadata']['annotations'] == {annotation: 'true'}  # the other scope's annotation is dropped
    assert unseal(obj, controller_key) == {'token': b't'}


def test_a_cluster_wide_secret_needs_no_namespace(public_key, controller_key, unseal, crd_valid):
    obj = sealing.sealed_secret(public_key, {'token': 't'}, 'db', None, 'cluster-wide')
    crd_valid(obj)
    assert 'namespace' not in obj['metadata'] and 'namespace' not in obj['spec']['template']['metadata']
    obj['metadata']['namespace'] = 'wherever'  # the namespace kubectl applies it to
    assert unseal(obj, controller_key) == {'token': b't'}


def test_a_secret_dictionary_gives_its_values_and_metadata(public_key, controller_key, unseal, crd_valid):
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque', 'immutable': True,
              'metadata': {'name': 'db', 'namespace': 'apps', 'labels': {'a': 'b'},
                           'annotations': {sealing.LAST_APPLIED: '{"stringData": {"password": "%s"}}' % CANARY}},
              'data': {'user': base64.b64encode(b'admin').decode(), 'password': base64.b64encode(b'old').decode()},
              'stringData': {'password': 'new'}}
    parts = sealing.from_secret(secret)
    obj = sealing.sealed_secret(public_key, parts['values'], parts['name'], parts['namespace'], 'strict', parts['type'],
                                parts['labels'], parts['annotations'], parts['immutable'])
    crd_valid(obj)
    assert unseal(obj, controller_key) == {'user': b'admin', 'password': b'new'}  # stringData wins, as in a Secret
    assert obj['spec']['template'] == {'metadata': {'name': 'db', 'namespace': 'apps', 'labels': {'a': 'b'}},
                                       'type': 'Opaque', 'immutable': True}
    assert CANARY not in repr(obj)  # kubectl's last-applied copy holds values in clear


def test_an_empty_secret_is_sealed_too(public_key, crd_valid):
    obj = sealing.sealed_secret(public_key, {}, 'empty', 'apps')
    crd_valid(obj)
    assert obj['spec']['encryptedData'] == {}


BAD = [
    (dict(scope='private'), 'bad_scope', "Scope 'private' is not one of strict, namespace-wide, cluster-wide."),
    (dict(name=None), 'missing_name', None),
    (dict(name=''), 'missing_name', None),
    (dict(namespace=None), 'missing_namespace', 'Scope strict binds the values to a namespace, so give the namespace of Secret db.'),
    (dict(namespace=None, scope='namespace-wide'), 'missing_namespace', None),
    (dict(values={7: CANARY}), 'bad_key', 'A key of the values is of type int, not a string; Secret keys are strings.'),
    (dict(values={'bad/key': CANARY}), 'bad_key', None),
    (dict(values={'has space': CANARY}), 'bad_key', None),
    (dict(values={'': CANARY}), 'bad_key', None),
    (dict(values={'..': CANARY}), 'bad_key', None),
    (dict(values={'..dots': CANARY}), 'bad_key', None),
    (dict(values={'k' * 254: CANARY}), 'bad_key', None),
    (dict(values={'ok': 12345}), 'bad_value', "The value of key 'ok' is of type int, not a string: quote it."),
    (dict(values={'ok': [CANARY]}), 'bad_value', None),
    (dict(values=[CANARY]), 'bad_input', None),
    (dict(labels={'app': 7}), 'bad_input', None),
]


@pytest.mark.parametrize('change,reason,sentence', BAD)
def test_bad_input_is_refused_in_one_sentence_without_a_value(public_key, change, reason, sentence):
    args = dict(values={'password': CANARY}, name='db', namespace='apps', scope='strict', labels=None)
    args.update(change)
    with pytest.raises(sealing.SealError) as caught:
        sealing.sealed_secret(public_key, args['values'], args['name'], args['namespace'], args['scope'], labels=args['labels'])
    error = caught.value
    assert error.reason == reason
    assert CANARY not in error.message and CANARY not in repr(error.failure) and CANARY not in repr(error.args)
    assert error.message.endswith('.') and '\n' not in error.message
    if sentence:
        assert error.message == sentence


def test_a_secret_whose_data_is_not_base64_is_refused_naming_only_the_key():
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'db'}, 'data': {'password': CANARY + '!'}}
    with pytest.raises(sealing.SealError) as caught:
        sealing.from_secret(secret)
    assert caught.value.reason == 'bad_value' and "'password'" in caught.value.message
    assert CANARY not in caught.value.message


# ------------------------------------------------------------------------------------------------ property

ALPHABET = string.ascii_letters + string.digits + '-._'
DNS = string.ascii_lowercase + string.digits + '-'


def _dns_name(rng):
    inner = ''.join(rng.choice(DNS) for dummy in range(rng.randint(0, 30)))
    return rng.choice(string.ascii_lowercase) + inner.rstrip('-') + rng.choice(string.ascii_lowercase + string.digits)


def _key(rng):
    key = ''.join(rng.choice(ALPHABET) for dummy in range(rng.randint(1, 40)))
    return 'k' + key if key in ('.', '..') or key.startswith('..') else key


def _value(rng):
    if rng.random() < 0.5:
        return bytes(rng.getrandbits(8) for dummy in range(rng.randint(0, 300)))
    return ''.join(chr(rng.randint(1, 0x2FFF)) for dummy in range(rng.randint(0, 80)))


def test_random_secrets_in_random_scopes_unseal_to_their_values_and_nowhere_else(public_key, controller_key, unseal, crd_valid):
    rng = random.Random(20261204)
    for case in range(120):  # enough to cover every scope with and without values many times; each case costs RSA work
        scope = rng.choice(sealing.SCOPES)
        name, namespace = _dns_name(rng), _dns_name(rng)
        values = {_key(rng): _value(rng) for dummy in range(rng.randint(0, 4))}
        obj = sealing.sealed_secret(public_key, values, name, namespace, scope)
        crd_valid(obj)
        want = {k: v if isinstance(v, bytes) else v.encode('utf-8') for k, v in values.items()}
        assert unseal(obj, controller_key) == want, case
        if not values or scope == 'cluster-wide':
            continue
        moved = dict(obj, metadata=dict(obj['metadata'], namespace=namespace + 'x'))
        with pytest.raises(ValueError):
            unseal(moved, controller_key)
        if scope == 'strict':
            renamed = dict(obj, metadata=dict(obj['metadata'], name=name + 'x'))
            with pytest.raises(ValueError):
                unseal(renamed, controller_key)
