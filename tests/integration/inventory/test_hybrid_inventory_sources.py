"""Which source files the ``hybrid`` plugin reads, as a user sees it from a real ``ansible-inventory``
with Ansible's default settings (no lab: a source without credentials stops before any request)."""
import pytest

SOURCE = {'plugin': 'hybridops.talos.hybrid'}


def stderr_of(listing):
    return ' '.join(listing.stderr.split())


@pytest.mark.parametrize('name', ['talos.hybrid.yml', 'talos.hybrid.yaml', 'hybrid.yml', 'hybrid.yaml',
                                  'prod_hybrid.yml', 'home-hybrid.yaml'])
def test_a_file_whose_name_ends_in_hybrid_yml_or_yaml_is_read(list_inventory, tmp_path, name):
    listing = list_inventory(SOURCE, name=name, unparsed_is_failed=False)
    # Read by the plugin: it gets as far as its own check of the options.
    assert 'hybrid inventory %s: no backend is configured' % (tmp_path / name) in stderr_of(listing), listing.stderr
    assert 'names plugin hybridops.talos.hybrid but is not read' not in listing.stderr


@pytest.mark.parametrize('name', ['talos.yml', 'hybrid-prod.yml', 'cluster.yaml'])
def test_a_file_naming_the_plugin_under_another_name_is_refused_with_the_reason(list_inventory, tmp_path, name):
    listing = list_inventory(SOURCE, name=name, unparsed_is_failed=False)
    assert listing.rc == 0  # Ansible's default: an unparsed source is a warning
    assert ('[WARNING]: hybrid inventory: %s names plugin hybridops.talos.hybrid but is not read, because the plugin '
            'reads only files whose name ends in hybrid.yml or hybrid.yaml; rename it, for example to '
            'talos.hybrid.yml.' % (tmp_path / name)) in stderr_of(listing), listing.stderr
    assert 'no backend is configured' not in listing.stderr


def test_another_inventory_source_gets_no_word_from_this_plugin(list_inventory):
    listing = list_inventory({'all': {'hosts': {'vps-0': None}}}, name='hosts.yml', unparsed_is_failed=False)
    assert listing.rc == 0 and 'vps-0' in listing.hosts('all')
    assert 'hybrid' not in listing.stderr
