"""The plugin class itself: which files it claims and that its documentation lists every option it reads."""
import pytest
import yaml

from ansible_collections.hybridops.talos.plugins.inventory import hybrid


class Recorder:
    """Stands in for the plugin's display to record what a user would see."""

    def __init__(self):
        self.warnings, self.verbose = [], []

    def warning(self, message):
        self.warnings.append(message)

    def vvv(self, message):
        self.verbose.append(message)


@pytest.mark.parametrize('name, accepted', [
    ('prod.hybrid.yml', True), ('prod.hybrid.yaml', True), ('hybrid.yml', True), ('hybrid.yaml', True),
    ('prod_hybrid.yml', True), ('talos-hybrid.yaml', True),
    ('prod.yml', False), ('hcloud.yml', False), ('hybrid.yml.bak', False), ('prod.hybrid.json', False),
])
def test_verify_file_accepts_names_ending_in_hybrid_yml_or_yaml(tmp_path, name, accepted):
    plugin = hybrid.InventoryModule()
    plugin.display = Recorder()
    path = tmp_path / name
    path.write_text('plugin: hybridops.talos.hybrid\n')
    assert plugin.verify_file(str(path)) is accepted, name
    if accepted:
        assert plugin.display.warnings == []


@pytest.mark.parametrize('name', ['prod.yml', 'talos.yaml', 'hybrid-prod.yml'])
def test_a_refused_file_that_names_the_plugin_gets_a_warning_saying_why(tmp_path, name):
    plugin = hybrid.InventoryModule()
    plugin.display = Recorder()
    path = tmp_path / name
    path.write_text('# the cluster\nplugin: "hybridops.talos.hybrid"  # both sites\nhcloud_site: fsn\n')
    assert plugin.verify_file(str(path)) is False
    assert plugin.display.warnings == [
        'hybrid inventory: %s names plugin hybridops.talos.hybrid but is not read, because the plugin reads only '
        'files whose name ends in hybrid.yml or hybrid.yaml; rename it, for example to talos.hybrid.yml.' % path]


@pytest.mark.parametrize('name, text', [
    ('hosts.yml', 'all:\n  hosts:\n    vps-0:\n'),
    ('other.yml', 'plugin: hetzner.hcloud.hcloud\n'),
    ('nested.yml', 'settings:\n  plugin: hybridops.talos.hybrid\n'),
    ('hosts', '[talos]\nplugin: hybridops.talos.hybrid\n'),
    ('hybrid.yml.bak', 'plugin: hybridops.talos.hybrid\n'),
])
def test_other_sources_are_refused_quietly(tmp_path, name, text):
    """Every enabled plugin is asked about every source: only files that name this plugin earn a warning."""
    plugin = hybrid.InventoryModule()
    plugin.display = Recorder()
    path = tmp_path / name
    path.write_text(text)
    assert plugin.verify_file(str(path)) is False
    assert plugin.display.warnings == [] and plugin.display.verbose


def test_a_missing_or_unreadable_source_is_refused_without_a_warning(tmp_path):
    plugin = hybrid.InventoryModule()
    plugin.display = Recorder()
    assert plugin.verify_file(str(tmp_path / 'missing.hybrid.yml')) is False
    assert plugin.verify_file(str(tmp_path)) is False
    assert hybrid.names_this_plugin(str(tmp_path / 'missing.yml')) is False
    assert plugin.display.warnings == []


def test_every_option_read_is_documented_and_every_credential_has_an_env_entry():
    options = yaml.safe_load(hybrid.DOCUMENTATION)['options']
    assert set(hybrid.OPTION_NAMES) <= set(options)
    envs = {name: [e['name'] for e in spec.get('env', [])] for name, spec in options.items()}
    assert envs['hcloud_token'] == ['HCLOUD_TOKEN'] and envs['hcloud_endpoint'] == ['HCLOUD_ENDPOINT']
    assert envs['proxmox_url'] == ['PROXMOX_URL'] and envs['proxmox_user'] == ['PROXMOX_USER']
    assert envs['proxmox_token_id'] == ['PROXMOX_TOKEN_ID']
    assert envs['proxmox_token_secret'] == ['PROXMOX_TOKEN_SECRET']
    assert envs['proxmox_ca_file'] == ['PROXMOX_CA_FILE']
    assert options['allow_partial']['default'] is False
