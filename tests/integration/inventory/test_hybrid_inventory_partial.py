"""``allow_partial``: one backend down keeps the other site's hosts, marks the down site and exits 0.

Real ``ansible-inventory`` and ``ansible-playbook`` against the lab; the outage is real too: a closed
port, the counting proxy in front of the Proxmox stand-in answering 503, or the Hetzner stand-in's
fault endpoint answering 503.
"""
import json

import pytest

from inventory_helpers import SEED, free_port, hcloud_env, pve_env, unwrap

pytestmark = pytest.mark.lab

SOURCE = {'plugin': 'hybridops.talos.hybrid', 'retries': 0}
HOME = {name for name, (_role, site) in SEED.items() if site == 'home'}
VPS = {name for name, (_role, site) in SEED.items() if site == 'vps'}


def exported(listing):
    """``ansible-inventory --list --export`` output: group variables stay on their groups."""
    text = listing.stdout
    return unwrap(json.loads(text[text.index('{'):]))


def flat(text):
    return ' '.join(text.split())


def test_home_outage_without_cache_keeps_vps_and_says_why_home_is_empty(lab_env, list_inventory, run_playbook,
                                                                        tmp_path):
    closed = 'https://127.0.0.1:%d' % free_port()
    env = dict(hcloud_env(lab_env), **pve_env(lab_env, url=closed))
    reason = 'the Proxmox VE API at %s (GET /cluster/resources) is unreachable: connection refused.' % closed

    strict = list_inventory(SOURCE, env=env)
    assert strict.rc != 0 and reason in flat(strict.stderr), 'the default must stay strict'

    listing = list_inventory(dict(SOURCE, allow_partial=True), env=env, args=('--export',))
    assert listing.rc == 0, listing.stderr
    assert ('hybrid inventory: %s With allow_partial, site home is listed without hosts (no inventory cache to take '
            'them from).' % reason) in flat(listing.stderr)
    data = exported(listing)
    assert set(data['_meta']['hostvars']) == VPS
    assert 'site_home' in data['all']['children'] and 'hosts' not in data['site_home']
    assert data['site_home']['vars'] == {'hybrid_inventory_error': reason}
    assert data['all']['vars'] == {'hybrid_inventory_errors': {'home': reason}}
    assert 'vars' not in data['site_vps']

    # The point of it: a scheduled check over the cluster still runs on the site that answers, and knows
    # which site it cannot see.
    source = tmp_path / 'test.hybrid.yml'  # written by list_inventory
    run = run_playbook([{'hosts': 'talos_controlplane', 'gather_facts': False, 'tasks': [
        {'name': 'check', 'ansible.builtin.debug': {'msg': '{{ hybrid_inventory_errors }}'}}]}],
        inventory=str(source), env=env)
    assert run.rc == 0, run
    assert set(run.stats) == {'vps-0', 'vps-1'}
    assert run.result('check', host='vps-0')['msg'] == {'home': reason}


def test_hetzner_outage_with_cache_keeps_the_last_complete_listing_marked(lab_env, list_inventory, private_hcloud,
                                                                          tmp_path):
    cache_dir = tmp_path / 'cache'
    source = dict(SOURCE, allow_partial=True, cache=True, cache_plugin='ansible.builtin.jsonfile',
                  cache_connection=str(cache_dir), cache_timeout=3600)
    env = dict(private_hcloud['env'], **pve_env(lab_env))
    complete = list_inventory(source, env=env)
    assert complete.rc == 0, complete.stderr
    assert set(SEED) <= set(complete.hostvars)
    cached = {path.name: path.read_text() for path in cache_dir.iterdir()}

    # What a load balancer in front of a down API answers: an HTML 503 page.
    private_hcloud['control'].fault('5xx', status=503, html=True, count=None, path='/servers')
    reason = ('the Hetzner Cloud API at %s (GET /servers) still answered 503 after 0 retries, the whole retry budget '
              'of this run (option retries); wait for the rate limit to refill or raise the budget.'
              % env['HCLOUD_ENDPOINT'])
    # --flush-cache reads the APIs (as meta: refresh_inventory does); the Hetzner read fails.
    outage = list_inventory(source, env=env, args=('--flush-cache',))
    assert outage.rc == 0, outage.stderr
    assert ('hybrid inventory: %s With allow_partial, site vps keeps the 2 hosts the inventory cache holds from the '
            'last complete read.' % reason) in flat(outage.stderr)
    assert set(outage.hostvars) == set(complete.hostvars)
    for name in VPS:
        last = dict(complete.hostvars[name], hybrid_inventory_error=reason, hybrid_inventory_errors={'vps': reason})
        assert outage.hostvars[name] == last
    for name in HOME:  # read live, not marked as the site that failed, but told about it
        assert outage.hostvars[name] == dict(complete.hostvars[name], hybrid_inventory_errors={'vps': reason})
    assert {path.name: path.read_text() for path in cache_dir.iterdir()} == cached, \
        'a partial read replaced the last complete listing in the cache'

    # Without --flush-cache the cache answers: the last complete listing, no request, no mark.
    counted = private_hcloud['control'].counters()['total']
    hit = list_inventory(source, env=env)
    assert hit.rc == 0 and hit.hostvars == complete.hostvars
    assert private_hcloud['control'].counters()['total'] == counted


def test_a_run_where_every_backend_fails_still_fails(lab_env, list_inventory, pve_proxy, private_hcloud):
    private_hcloud['control'].fault('5xx', status=503, html=True, count=None, path='/servers')
    pve_proxy.fault(503, count=None, path='/cluster/resources')
    env = dict(private_hcloud['env'], **pve_env(lab_env, url=pve_proxy.url))
    listing = list_inventory(dict(SOURCE, allow_partial=True), env=env)
    assert listing.rc != 0
    message = flat(listing.stderr)
    assert 'the Hetzner Cloud API at %s (GET /servers) still answered 503' % env['HCLOUD_ENDPOINT'] in message
    assert 'the Proxmox VE API at %s (GET /cluster/resources) still answered HTTP 503' % pve_proxy.url in message


def test_bad_options_still_fail_and_a_refused_token_is_an_unreadable_backend(lab_env, list_inventory):
    """allow_partial goes on past a backend that cannot be read, whatever the reason, never past a broken source."""
    env = dict(hcloud_env(lab_env), **pve_env(lab_env))
    bad = list_inventory(dict(SOURCE, allow_partial=True, proxmox_workers=99), env=env)
    assert bad.rc != 0 and 'proxmox_workers must be between 1 and 10' in bad.stderr

    env['PROXMOX_TOKEN_SECRET'] = 'not-a-valid-secret-0123456789'
    refused = list_inventory(dict(SOURCE, allow_partial=True), env=env)
    assert refused.rc == 0, refused.stderr
    assert set(refused.hostvars) == VPS
    reason = refused.hostvars['vps-0']['hybrid_inventory_errors']['home']
    assert reason.startswith('the Proxmox VE API at %s (GET /cluster/resources) refused the API token (401'
                             % env['PROXMOX_URL'])
    assert 'not-a-valid-secret' not in refused.stdout + refused.stderr
