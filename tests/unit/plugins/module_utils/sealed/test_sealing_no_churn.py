"""The no-churn rule: keep an existing SealedSecret only on evidence that it holds the wanted values."""
import base64
import copy

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _sealed_secrets as sealing

VALUES = {'user': 'admin', 'password': 'p4ss'}


@pytest.fixture(scope='module')
def public_key(controller_cert):
    return sealing.load_certificate(controller_cert)


def wanted(public_key, values=None, scope='strict', **changes):
    args = dict(name='db', namespace='apps', labels={'app': 'db'}, type='Opaque')
    args.update(changes)
    values = VALUES if values is None else values
    return {'object': sealing.sealed_secret(public_key, values, args['name'], args['namespace'], scope, args['type'], args['labels']),
            'values': values}


def in_cluster(obj, uid='u-1', generation=3, synced='True', observed=None):
    """The SealedSecret as the API returns it after the controller unsealed it."""
    live = copy.deepcopy(obj)
    live['metadata'].update(uid=uid, generation=generation, resourceVersion='42', creationTimestamp='2026-01-01T00:00:00Z')
    live['status'] = {'observedGeneration': generation if observed is None else observed,
                      'conditions': [{'type': 'Synced', 'status': synced}]}
    return live


def secret(values, uid='u-1', owner_kind='SealedSecret'):
    owners = [{'apiVersion': 'bitnami.com/v1alpha1', 'kind': owner_kind, 'name': 'db', 'uid': uid}] if owner_kind else []
    return {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'db', 'namespace': 'apps', 'ownerReferences': owners},
            'data': {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def test_an_unsealed_sealed_secret_with_the_wanted_values_is_kept(public_key):
    existing = in_cluster(wanted(public_key)['object'])
    keep, why = sealing.keep_decision(existing, wanted(public_key), secret(VALUES))
    assert keep, why
    kept = sealing.without_server_fields(existing)
    assert kept['spec'] == existing['spec'] and 'status' not in kept
    assert kept['metadata'] == {'name': 'db', 'namespace': 'apps'}


def test_a_secret_without_owner_references_still_counts(public_key):
    existing = in_cluster(wanted(public_key)['object'])
    assert sealing.keep_decision(existing, wanted(public_key), secret(VALUES, owner_kind=None))[0]


@pytest.mark.parametrize('case,why', [
    ('nothing', 'there is no SealedSecret yet'),
    ('value', 'the values of its Secret differ from the wanted values'),
    ('key added', 'its keys differ'),
    ('renamed', 'its name differs'),
    ('other namespace', 'its namespace differs'),
    ('scope', 'its scope differs'),
    ('label', 'its template (type, labels or annotations) differs'),
    ('type', 'its template (type, labels or annotations) differs'),
    ('no status', 'the controller has not unsealed it (no Synced condition that is True)'),
    ('unseal failed', 'the controller has not unsealed it (no Synced condition that is True)'),
    ('stale', 'the controller has not unsealed its current generation'),
    ('no secret', 'its Secret is not in the cluster'),
    ('other owner', 'its Secret is owned by something else'),
    ('other uid', 'its Secret is owned by something else'),
])
def test_anything_short_of_evidence_seals_again(public_key, case, why):
    existing = in_cluster(wanted(public_key)['object'])
    want, live = wanted(public_key), secret(VALUES)
    if case == 'nothing':
        existing = None
    elif case == 'value':
        want = wanted(public_key, dict(VALUES, password='changed'))
    elif case == 'key added':
        want = wanted(public_key, dict(VALUES, extra='x'))
    elif case == 'renamed':
        want = wanted(public_key, name='db2')
    elif case == 'other namespace':
        want = wanted(public_key, namespace='apps2')
    elif case == 'scope':
        want = wanted(public_key, scope='namespace-wide')
    elif case == 'label':
        want = wanted(public_key, labels={'app': 'other'})
    elif case == 'type':
        want = wanted(public_key, type='kubernetes.io/basic-auth')
    elif case == 'no status':
        del existing['status']
    elif case == 'unseal failed':
        existing = in_cluster(want['object'], synced='False')
    elif case == 'stale':
        existing = in_cluster(want['object'], observed=2)
    elif case == 'no secret':
        live = None
    elif case == 'other owner':
        live = secret(VALUES, owner_kind='Deployment')
    elif case == 'other uid':
        live = secret(VALUES, uid='u-2')
    keep, reason = sealing.keep_decision(existing, want, live)
    assert (keep, reason) == (False, why)
    assert 'p4ss' not in reason and 'changed' not in reason


def test_the_reason_never_quotes_a_value(public_key):
    existing = in_cluster(wanted(public_key)['object'])
    keep, why = sealing.keep_decision(existing, wanted(public_key, dict(VALUES, password='canary-77')), secret(VALUES))
    assert not keep and 'canary-77' not in why and 'p4ss' not in why
