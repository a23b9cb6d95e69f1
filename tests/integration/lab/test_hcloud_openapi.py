"""Conformance of the Hetzner stand-in to the published OpenAPI description (../shared/oracles/hcloud/).

The conftest switches the check on for every lab test and fails a test on any violation; here we
walk every endpoint the stand-in serves, and prove the check can fail at all.
"""
import json

import pytest
import requests

from lab.hcloud import oracle
from shared_oracles import needs_oracle

pytestmark = [pytest.mark.lab, needs_oracle('oracles', 'hcloud', 'hcloud.openapi.json')]


@pytest.fixture(scope='module')
def checker():
    return oracle.shared()


def test_preprocessing_is_done_in_memory():
    with open(oracle.SPEC, encoding='utf-8') as handle:
        raw = json.load(handle)
    assert raw['openapi'].startswith('3.0')
    done = oracle.preprocess(json.loads(json.dumps(raw)))
    assert done['openapi'] == '3.1.0'
    responses = done['paths']['/servers/{id}']['get']['responses']
    assert '4XX' in responses and '5XX' in responses and '4xx' not in responses
    assert 'nullable' not in json.dumps(done)


def test_an_action_with_null_error_is_valid(checker):
    action = {'id': 1, 'command': 'start_server', 'status': 'running', 'progress': 0, 'started': '2026-01-01T00:00:00+00:00',
              'finished': None, 'resources': [{'id': 42, 'type': 'server'}], 'error': None}
    assert checker.check('GET', '/v1/actions/1', '', {'Authorization': 'Bearer x'}, b'', 200,
                         json.dumps({'action': action}).encode(), {}) == []


def test_the_check_rejects_a_wrong_answer(checker):
    action = {'id': 1, 'command': 'start_server', 'status': 'done', 'progress': 0, 'started': 'x',
              'finished': None, 'resources': [], 'error': None}
    found = checker.check('GET', '/v1/actions/1', '', {'Authorization': 'Bearer x'}, b'', 200,
                          json.dumps({'action': action}).encode(), {})
    assert [entry[0] for entry in found] == ['response'] and 'done' in found[0][1]


def test_a_stand_in_departing_from_the_description_is_caught(private_hcloud):
    lab = private_hcloud(validate=True)
    server = next(iter(lab.lab.store.servers.values()))
    server['status'] = 'exploded'  # a state the real API never reports
    answer = requests.get('%s/servers/%d' % (lab.endpoint, server['id']), timeout=10,
                          headers={'Authorization': 'Bearer ro-token'})
    assert answer.status_code == 200
    (violation,) = lab.control.violations()
    assert violation['kind'] == 'response' and 'exploded' in violation['error']


def _get(env, path, **params):
    answer = requests.get(env['HCLOUD_ENDPOINT'] + path, params=params, timeout=10,
                          headers={'Authorization': 'Bearer ' + env['HCLOUD_TOKEN_READONLY']})
    return answer


@pytest.mark.parametrize('collection', ['servers', 'server_types', 'images', 'locations', 'datacenters', 'networks',
                                        'firewalls', 'placement_groups', 'ssh_keys'])
def test_every_collection_and_item_conforms(lab_env, collection):
    listing = _get(lab_env, '/' + collection, per_page=50)
    assert listing.status_code == 200
    items = listing.json()[collection]
    assert items
    for item in items[:3]:
        assert _get(lab_env, '/%s/%d' % (collection, item['id'])).status_code == 200


def test_action_endpoints_conform(lab_env):
    server = _get(lab_env, '/servers', name='vps-0').json()['servers'][0]
    actions = _get(lab_env, '/servers/%d/actions' % server['id']).json()['actions']
    assert {a['command'] for a in actions} >= {'create_server', 'start_server'}
    ids = [a['id'] for a in actions]
    assert _get(lab_env, '/actions', id=ids).json()['actions']
    assert _get(lab_env, '/actions/%d' % ids[0]).json()['action']['status'] == 'success'
    assert _get(lab_env, '/servers/actions', id=ids).status_code == 200
    assert _get(lab_env, '/servers/%d/actions/%d' % (server['id'], ids[0])).status_code == 200


@pytest.mark.parametrize('path, status, code', [
    ('/servers/1', 404, 'not_found'),
    ('/servers?label_selector=a+in+(b', 400, 'invalid_input'),
])
def test_error_answers_conform(lab_env, path, status, code):
    answer = _get(lab_env, path)
    assert answer.status_code == status
    assert answer.json()['error']['code'] == code and 'message' in answer.json()['error']


def test_a_request_outside_the_description_is_recorded_and_refused(lab_env, hcloud_control):
    answer = _get(lab_env, '/actions')  # the description requires id= filters, as the real API does
    assert answer.status_code == 400 and answer.json()['error']['code'] == 'invalid_input'
    found = hcloud_control.violations(clear=True)
    assert [(v['path'], v['kind']) for v in found] == [('/v1/actions', 'request')]
