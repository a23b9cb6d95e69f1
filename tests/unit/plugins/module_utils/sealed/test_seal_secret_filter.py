"""The seal_secret filter: values or a Secret in, a SealedSecret out, the existing one kept when nothing changed."""
import base64

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybridops.talos.plugins.filter.seal_secret import FilterModule, seal_secret
from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets as sealing

CANARY = 'canary-Kx9-never-shown'


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {'seal_secret': seal_secret}


def test_values_are_sealed_for_the_named_secret(controller_cert, controller_key, unseal, crd_valid):
    obj = seal_secret({'password': 'p4ss'}, name='db', namespace='apps', certificate=controller_cert)
    crd_valid(obj)
    assert obj['metadata'] == {'name': 'db', 'namespace': 'apps'}
    assert unseal(obj, controller_key) == {'password': b'p4ss'}


def test_a_secret_gives_the_defaults_and_the_arguments_win(controller_cert, controller_key, unseal, crd_valid):
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'kubernetes.io/basic-auth',
              'metadata': {'name': 'db', 'namespace': 'apps', 'labels': {'a': 'b'}},
              'data': {'username': base64.b64encode(b'admin').decode()}, 'stringData': {'password': 'p4ss'}}
    obj = seal_secret(secret, namespace='apps2', scope='namespace-wide', certificate=controller_cert)
    crd_valid(obj)
    assert obj['metadata'] == {'name': 'db', 'namespace': 'apps2', 'annotations': {sealing.NAMESPACE_WIDE: 'true'}}
    assert obj['spec']['template']['type'] == 'kubernetes.io/basic-auth'
    assert obj['spec']['template']['metadata']['labels'] == {'a': 'b'}
    assert unseal(obj, controller_key) == {'username': b'admin', 'password': b'p4ss'}


def test_an_unchanged_sealed_secret_is_returned_as_it_is(controller_cert):
    first = seal_secret({'password': 'p4ss'}, name='db', namespace='apps', certificate=controller_cert)
    existing = dict(first, metadata=dict(first['metadata'], uid='u', generation=1),
                    status={'observedGeneration': 1, 'conditions': [{'type': 'Synced', 'status': 'True'}]})
    live = {'metadata': {'ownerReferences': [{'kind': 'SealedSecret', 'uid': 'u'}]},
            'data': {'password': base64.b64encode(b'p4ss').decode()}}
    assert seal_secret({'password': 'p4ss'}, name='db', namespace='apps', certificate=controller_cert,
                       existing=existing, live_secret=live) == first
    again = seal_secret({'password': 'new'}, name='db', namespace='apps', certificate=controller_cert,
                        existing=existing, live_secret=live)
    assert again['spec']['encryptedData'] != first['spec']['encryptedData']


@pytest.mark.parametrize('values,args,words', [
    ({'password': CANARY}, dict(name='db', namespace='apps'), "Give certificate"),
    ({'password': CANARY}, dict(name='db', namespace='apps', certificate=CANARY), 'not a PEM X.509 certificate'),
    ({'password': CANARY}, dict(name='db', certificate='cert'), 'give the namespace of Secret db'),
    ({'pass word': CANARY}, dict(name='db', namespace='apps', certificate='cert'), "Key 'pass word' is not a valid Secret key"),
    ({'password': CANARY}, dict(name='db', namespace='apps', scope=CANARY[:6], certificate='cert'), 'is not one of'),
    (CANARY, dict(name='db', namespace='apps', certificate='cert'), 'The input is of type str'),
])
def test_errors_name_the_problem_and_never_a_value(controller_cert, values, args, words):
    args = dict(args)
    if args.get('certificate') == 'cert':
        args['certificate'] = controller_cert
    with pytest.raises(AnsibleFilterError) as caught:
        seal_secret(values, **args)
    message = str(caught.value)
    assert message.startswith('seal_secret: ') and words in message
    assert CANARY not in message and caught.value.__cause__ is None
