"""Hetzner Cloud server → inventory record: role, address choice, facts, odd data."""
import pytest

from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_hcloud import normalise_server
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_options import build_settings
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_retry import OddHostError


def hcloud(**options):
    return build_settings(dict(hcloud_token='t', **options))['hcloud']


def server(**changes):
    raw = {
        'id': 42, 'name': 'vps-0', 'status': 'running',
        'labels': {'talos-role': 'controlplane', 'cluster': 'prod'},
        'server_type': {'name': 'cpx21'},
        'datacenter': {'name': 'fsn1-dc14', 'location': {'name': 'fsn1'}},
        'public_net': {'ipv4': {'ip': '203.0.113.10'}, 'ipv6': {'ip': '2001:db8:1::/64'}},
        'private_net': [{'network': 7, 'ip': '10.0.0.2'}, {'network': 9, 'ip': '10.1.0.2'}],
    }
    raw.update(changes)
    return raw


def test_controlplane_server_becomes_a_record_with_public_ipv4_and_facts():
    record = normalise_server(server(), hcloud())
    assert record['name'] == 'vps-0' and record['role'] == 'controlplane' and record['site'] == 'vps'
    assert record['address'] == '203.0.113.10'
    assert record['private_ips'] == ['10.0.0.2', '10.1.0.2']
    assert record['facts'] == {'hcloud_id': 42, 'hcloud_type': 'cpx21', 'hcloud_location': 'fsn1', 'hcloud_datacenter': 'fsn1-dc14',
                               'hcloud_labels': {'talos-role': 'controlplane', 'cluster': 'prod'},
                               'hcloud_status': 'running'}


def test_location_field_of_the_current_api_wins_over_the_deprecated_datacenter():
    assert normalise_server(server(location={'name': 'nbg1'}), hcloud())['facts']['hcloud_location'] == 'nbg1'


def test_renamed_site_and_role_label():
    raw = server(labels={'role': 'worker'})
    record = normalise_server(raw, hcloud(hcloud_role_label='role', hcloud_site='fsn'))
    assert (record['role'], record['site']) == ('worker', 'fsn')


def test_public_ipv6_is_the_first_address_of_the_network():
    assert normalise_server(server(), hcloud(hcloud_address='public_ipv6'))['address'] == '2001:db8:1::1'


def test_private_ipv4_takes_the_given_network_else_the_first():
    assert normalise_server(server(), hcloud(hcloud_address='private_ipv4'))['address'] == '10.0.0.2'
    assert normalise_server(server(), hcloud(hcloud_address='private_ipv4', hcloud_network='9'), 9)['address'] == '10.1.0.2'


def test_server_without_the_chosen_address_is_odd_and_says_which_address():
    raw = server(public_net={'ipv4': None, 'ipv6': {'ip': '2001:db8:1::/64'}})
    with pytest.raises(OddHostError, match="Hetzner server 42 'vps-0' has no public IPv4 address"):
        normalise_server(raw, hcloud())


@pytest.mark.parametrize('labels', [{'talos-role': 'master'}, {'talos-role': ''}, {}])
def test_server_with_an_unknown_role_is_odd(labels):
    with pytest.raises(OddHostError, match='neither controlplane nor worker'):
        normalise_server(server(labels=labels), hcloud())


def test_server_without_name_is_odd():
    with pytest.raises(OddHostError, match='without a name'):
        normalise_server(server(name=''), hcloud())


@pytest.fixture
def always_429():
    """A loopback HTTP server answering every request 429 rate_limit_exceeded, counting them."""
    import http.server
    import json
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        calls = 0

        def do_GET(self):  # noqa: N802  (http.server's name)
            Handler.calls += 1
            body = json.dumps({'error': {'code': 'rate_limit_exceeded', 'message': 'slow down'}}).encode()
            self.send_response(429)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d/v1' % server.server_address[1], Handler
    server.shutdown()
    server.server_close()


def test_the_hcloud_library_retries_are_switched_off_so_the_budget_is_the_only_one(always_429):
    """Fails loudly when an hcloud release moves its private retry setting: the library would then retry
    the 429 itself (five more requests, seconds of sleep) before the budget sees it."""
    from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_hcloud import (
        HcloudSource, without_library_retries)
    from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_retry import (
        InventorySourceError, RetryBudget)
    endpoint, handler = always_429
    logged = []
    source = HcloudSource(hcloud(hcloud_endpoint=endpoint), RetryBudget(1, 0.0, 0.0), 5, logged.append)
    assert logged == [], 'without_library_retries() no longer finds the hcloud library retry setting'
    with pytest.raises(InventorySourceError, match='still answered rate_limit_exceeded after 1 retry'):
        source.servers()
    assert handler.calls == 2  # one try and the budget's one retry, none by the library
    assert without_library_retries(object()) is False
