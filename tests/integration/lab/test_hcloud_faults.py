"""Rate limiting, injected faults and request counters of the Hetzner stand-in, through its control API.

Faults on the shared lab are scoped to the test's own User-Agent so parallel tests never see them;
rate-limit settings, which are project-wide by nature, are tried on a private stand-in.
"""
import time

import pytest
import requests
from hcloud import APIException, Client

pytestmark = pytest.mark.lab


def _client(lab_env, agent):
    return Client(token=lab_env['HCLOUD_TOKEN_READONLY'], api_endpoint=lab_env['HCLOUD_ENDPOINT'], application_name=agent)


def test_counters_count_each_endpoint(lab_env, hcloud_control, agent):
    client = _client(lab_env, agent)
    client.servers.get_all()
    client.servers.get_by_name('vps-0')
    client.locations.get_all()
    counted = hcloud_control.counters(agent=agent)
    assert counted == {'total': 3, 'endpoints': {'GET /locations': 1, 'GET /servers': 2}}
    hcloud_control.reset_counters(agent=agent)
    assert hcloud_control.counters(agent=agent)['total'] == 0


def test_a_short_429_storm_is_retried_by_the_library(lab_env, hcloud_control, agent):
    hcloud_control.fault('429', count=1, agent=agent)
    started = time.monotonic()
    assert _client(lab_env, agent).servers.get_by_name('vps-0') is not None
    assert time.monotonic() - started >= 1.0  # the library's first backoff
    assert hcloud_control.counters(agent=agent)['endpoints'] == {'GET /servers': 2}


def test_429_storm_answers_exactly_n_times(lab_env, hcloud_control, agent):
    hcloud_control.fault('429', count=3, agent=agent)
    session = requests.Session()
    session.headers.update({'Authorization': 'Bearer ' + lab_env['HCLOUD_TOKEN_READONLY'], 'User-Agent': agent})
    answers = [session.get(lab_env['HCLOUD_ENDPOINT'] + '/servers', timeout=10) for dummy in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert answers[0].json()['error']['code'] == 'rate_limit_exceeded'


def test_5xx_fault_for_one_path(lab_env, hcloud_control, agent):
    hcloud_control.fault('5xx', status=503, count=1, path='/servers', agent=agent)
    client = _client(lab_env, agent)
    assert client.locations.get_all()  # another path is not hit
    with pytest.raises(APIException) as caught:
        client.servers.get_all()
    assert caught.value.code == 'unavailable'
    assert client.servers.get_all()


def test_bad_gateway_is_retried_by_the_library(lab_env, hcloud_control, agent):
    hcloud_control.fault('5xx', status=502, count=1, html=True, agent=agent)
    assert _client(lab_env, agent).servers.get_by_name('vps-1') is not None
    assert hcloud_control.counters(agent=agent)['total'] == 2


def test_latency_fault_delays_answers(lab_env, hcloud_control, agent):
    hcloud_control.fault('latency', seconds=0.4, count=2, agent=agent)
    client = _client(lab_env, agent)
    started = time.monotonic()
    client.locations.get_all()
    client.locations.get_all()
    slow = time.monotonic() - started
    started = time.monotonic()
    client.locations.get_all()
    assert slow >= 0.8 and time.monotonic() - started < 0.4


def test_faults_can_be_listed_and_cleared(hcloud_control, agent):
    hcloud_control.fault('429', count=None, agent=agent)
    assert any(f['agent'] == agent for f in hcloud_control.faults()['faults'])
    hcloud_control.clear_faults()
    assert not any(f['agent'] == agent for f in hcloud_control.faults()['faults'])


def test_the_token_bucket_empties_and_refills(private_hcloud):
    lab = private_hcloud(capacity=3, refill=2.0)
    session = requests.Session()
    session.headers['Authorization'] = 'Bearer ro-token'
    answers = [session.get(lab.endpoint + '/locations', timeout=10) for dummy in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers['RateLimit-Remaining'] for a in answers[:3]] == ['2', '1', '0']
    assert all(a.headers['RateLimit-Limit'] == '3' for a in answers)
    assert int(answers[3].headers['RateLimit-Reset']) >= int(time.time())
    time.sleep(0.6)  # refill 2/s: at least one request back
    assert session.get(lab.endpoint + '/locations', timeout=10).status_code == 200


def test_rate_limit_is_configurable_at_run_time(private_hcloud):
    lab = private_hcloud()
    assert lab.control.rate_limit()['capacity'] == 3600
    assert lab.control.rate_limit(capacity=1, refill=0.001) == {'capacity': 1, 'refill': 0.001, 'remaining': 1}
    headers = {'Authorization': 'Bearer ro-token'}
    assert requests.get(lab.endpoint + '/locations', headers=headers, timeout=10).status_code == 200
    refused = requests.get(lab.endpoint + '/locations', headers=headers, timeout=10)
    assert refused.status_code == 429 and refused.headers['RateLimit-Remaining'] == '0'
    lab.control.rate_limit(capacity=3600, refill=1)
    assert requests.get(lab.endpoint + '/locations', headers=headers, timeout=10).status_code == 200
