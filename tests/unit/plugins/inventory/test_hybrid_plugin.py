"""The plugin class itself: which files it claims and that its documentation lists every option it reads."""
import yaml

from ansible_collections.hybridops.talos.plugins.inventory import hybrid


def test_verify_file_accepts_hybrid_sources_only(tmp_path):
    plugin = hybrid.InventoryModule()
    for name, accepted in (('prod.hybrid.yml', True), ('prod.hybrid.yaml', True), ('hybrid.yml', True),
                           ('hybrid.yaml', False), ('prod.yml', False), ('hcloud.yml', False)):
        path = tmp_path / name
        path.write_text('plugin: hybridops.talos.hybrid\n')
        assert plugin.verify_file(str(path)) is accepted, name
    assert plugin.verify_file(str(tmp_path / 'missing.hybrid.yml')) is False


def test_every_option_read_is_documented_and_every_credential_has_an_env_entry():
    options = yaml.safe_load(hybrid.DOCUMENTATION)['options']
    assert set(hybrid.OPTION_NAMES) <= set(options)
    envs = {name: [e['name'] for e in spec.get('env', [])] for name, spec in options.items()}
    assert envs['hcloud_token'] == ['HCLOUD_TOKEN'] and envs['hcloud_endpoint'] == ['HCLOUD_ENDPOINT']
    assert envs['proxmox_url'] == ['PROXMOX_URL'] and envs['proxmox_user'] == ['PROXMOX_USER']
    assert envs['proxmox_token_id'] == ['PROXMOX_TOKEN_ID']
    assert envs['proxmox_token_secret'] == ['PROXMOX_TOKEN_SECRET']
    assert envs['proxmox_ca_file'] == ['PROXMOX_CA_FILE']
