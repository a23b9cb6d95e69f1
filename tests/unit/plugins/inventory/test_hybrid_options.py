"""Option checks of the hybrid inventory: everything wrong with a source fails before any request."""
import pytest

from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_options import build_settings, cache_identity
from ansible_collections.hybridops.talos.plugins.plugin_utils._inventory_retry import InventorySourceError

PVE = {'proxmox_url': 'https://pve.example.org:8006', 'proxmox_user': 'inventory@pve',
       'proxmox_token_id': 'ansible', 'proxmox_token_secret': 's3cret'}


def settings(**options):
    return build_settings(options)


def with_pve(**changes):
    """Settings of the PVE options above with ``changes`` applied."""
    options = dict(PVE)
    options.update(changes)
    return build_settings(options)


def test_no_backend_is_an_error_naming_both_ways_to_configure_one():
    with pytest.raises(InventorySourceError, match='no backend is configured.*hcloud_token.*proxmox_url'):
        settings()


def test_hcloud_alone_is_enabled_by_its_token_and_selects_on_the_role_label_server_side():
    result = settings(hcloud_token='t', hcloud_label_selector='cluster=prod')
    assert result['proxmox'] is None
    assert result['hcloud']['label_selector'] == 'cluster=prod,talos-role'
    assert result['hcloud']['endpoint'] == 'https://api.hetzner.cloud/v1'
    assert result['hcloud']['site'] == 'vps'


@pytest.mark.parametrize('selector', ['talos-role', 'talos-role=worker', 'env=x,talos-role in (worker)',
                                      'talos-role!=controlplane'])
def test_hcloud_selector_already_testing_the_role_label_is_kept_as_is(selector):
    assert settings(hcloud_token='t', hcloud_label_selector=selector)['hcloud']['label_selector'] == selector


def test_hcloud_selector_on_a_similar_label_still_gets_the_role_label():
    result = settings(hcloud_token='t', hcloud_label_selector='talos-role-old=x')['hcloud']
    assert result['label_selector'] == 'talos-role-old=x,talos-role'


def test_hcloud_disabled_ignores_an_injected_token():
    result = settings(hcloud_token='t', hcloud_enabled=False, **PVE)
    assert result['hcloud'] is None and result['proxmox'] is not None


def test_hcloud_enabled_without_token_names_the_missing_option():
    with pytest.raises(InventorySourceError, match='hcloud_token is not set'):
        settings(hcloud_enabled=True, **PVE)


def test_proxmox_url_without_token_secret_names_what_is_missing_and_not_the_values():
    with pytest.raises(InventorySourceError, match='proxmox_token_secret is not') as err:
        with_pve(proxmox_token_secret=None)
    assert 'inventory@pve' not in str(err.value)


def test_proxmox_full_token_id_is_split_into_user_and_name():
    result = with_pve(proxmox_user=None, proxmox_token_id='auditor@pve!ro')['proxmox']
    assert (result['user'], result['token_name']) == ('auditor@pve', 'ro')


def test_proxmox_token_of_another_user_is_refused():
    with pytest.raises(InventorySourceError, match='belongs to other@pve'):
        with_pve(proxmox_token_id='other@pve!ro')


@pytest.mark.parametrize('url', ['http://pve:8006', 'pve.example.org', 'https://user:pw@pve:8006'])
def test_proxmox_url_must_be_https_without_credentials(url):
    with pytest.raises(InventorySourceError, match='proxmox_url must'):
        with_pve(proxmox_url=url)


def test_proxmox_url_parts_default_port_and_api_path():
    result = with_pve(proxmox_url='https://pve.example.org/api2/json')['proxmox']
    assert (result['host'], result['port'], result['path_prefix']) == ('pve.example.org', 8006, None)


def test_ca_file_is_what_requests_verifies_against_and_validate_false_wins():
    assert with_pve(proxmox_ca_file='/ca.pem')['proxmox']['verify'] == '/ca.pem'
    assert with_pve(proxmox_ca_file='/ca.pem', proxmox_validate_certs=False)['proxmox']['verify'] is False
    assert settings(**PVE)['proxmox']['verify'] is True


@pytest.mark.parametrize('option, value, message', [
    ('hcloud_site', 'my-site', 'hcloud_site must be letters'),
    ('hcloud_role_label', 'bad label', 'not a valid Hetzner label key'),
    ('hcloud_address', 'ipv4', 'hcloud_address must be one of'),
    ('hcloud_endpoint', 'ftp://x', 'hcloud_endpoint must be an http'),
    ('retries', -1, 'retries must be 0 or more'),
    ('timeout', 0, 'timeout must be a positive'),
])
def test_bad_hcloud_and_common_options(option, value, message):
    with pytest.raises(InventorySourceError, match=message):
        settings(hcloud_token='t', **{option: value})


@pytest.mark.parametrize('option, value, message', [
    ('proxmox_site', 'home site', 'proxmox_site must be letters'),
    ('proxmox_vmid_subnet', '192.168.10.1/24', 'CIDR form'),
    ('proxmox_workers', 0, 'between 1 and 10'),
    ('proxmox_workers', 11, 'between 1 and 10'),
    ('proxmox_worker_tag', 'talos-controlplane', 'must differ'),
    ('proxmox_tags', ['a b'], 'not a valid Proxmox tag'),
    ('proxmox_tags', ['talos-worker'], 'proxmox_tags lists a role tag'),
])
def test_bad_proxmox_options(option, value, message):
    with pytest.raises(InventorySourceError, match=message):
        with_pve(**{option: value})


def test_cache_identity_changes_with_the_selection_but_not_with_the_token():
    base = with_pve(hcloud_token='a')
    assert cache_identity(base) == cache_identity(with_pve(hcloud_token='b', proxmox_token_secret='x'))
    assert cache_identity(base) != cache_identity(with_pve(hcloud_token='a', hcloud_label_selector='env=x'))
    assert 's3cret' not in cache_identity(base)
