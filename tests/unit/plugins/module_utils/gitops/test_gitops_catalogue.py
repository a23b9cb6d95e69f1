"""The service catalogue's placement rules and rendered values (plugins/module_utils/_service_catalogue.py)."""
import copy

import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _service_catalogue as sc

from gitops_catalogue_data import CLASSES, LABEL, SITES, catalogue


def plan(entries=None, enabled=None, control_planes=3, classes=None):
    table, default_enabled = catalogue()
    return sc.plan(entries or table, enabled or default_enabled, SITES, classes or CLASSES, control_planes, LABEL)


def test_the_default_catalogue_places_critical_services_on_the_vps_and_storage_heavy_ones_at_home():
    _services, table = plan()
    by = {row['service']: row for row in table}
    for name in ('cert-manager', 'vault', 'authentik', 'powerdns'):
        assert by[name]['site'] == 'fsn1' and by[name]['storage_class'] in (None, 'hcloud-volumes'), by[name]
    for name in ('harbor', 'gitea', 'observability', 'loki'):
        assert by[name]['site'] == 'home' and by[name]['storage_class'] == 'proxmox-zfs', by[name]


def test_every_chart_is_pinned_to_an_exact_version():
    table, _enabled = catalogue()
    for name, entry in table.items():
        assert sc.PINNED.match(str(entry['chart']['version'])), name


def test_vault_runs_three_raft_replicas_one_per_control_plane_tolerating_their_taint():
    services, _table = plan()
    server = next(s for s in services if s['name'] == 'vault')['rendered_values']['server']
    assert server['ha']['replicas'] == 3 and server['ha']['raft']['enabled'] is True
    assert server['nodeSelector'] == {LABEL: 'fsn1', 'node-role.kubernetes.io/control-plane': ''}
    assert server['tolerations'] == [{'key': 'node-role.kubernetes.io/control-plane', 'operator': 'Exists', 'effect': 'NoSchedule'}]
    (term,) = server['affinity']['podAntiAffinity']['requiredDuringSchedulingIgnoredDuringExecution']
    assert term['topologyKey'] == 'kubernetes.io/hostname' and term['labelSelector']['matchLabels']['app.kubernetes.io/name'] == 'vault'
    assert server['dataStorage'] == {'enabled': True, 'storageClass': 'hcloud-volumes', 'size': '10Gi'}


def test_values_land_at_every_path_the_catalogue_names():
    services, _table = plan()
    harbor = next(s for s in services if s['name'] == 'harbor')['rendered_values']
    for component in ('core', 'registry', 'portal', 'jobservice', 'trivy', 'nginx'):
        assert harbor[component]['nodeSelector'] == {LABEL: 'home'}, component
    assert 'tolerations' not in harbor['core']
    assert harbor['persistence']['persistentVolumeClaim']['registry'] == {'storageClass': 'proxmox-zfs', 'size': '100Gi'}
    gitea = next(s for s in services if s['name'] == 'gitea')['rendered_values']
    assert gitea['nodeSelector'] == {LABEL: 'home'} and gitea['persistence']['storageClass'] == 'proxmox-zfs'
    cert_manager = next(s for s in services if s['name'] == 'cert-manager')['rendered_values']
    assert cert_manager['nodeSelector'] == cert_manager['webhook']['nodeSelector'] == {LABEL: 'fsn1'}
    assert cert_manager['crds'] == {'enabled': True, 'keep': True}


def _with(name, **change):
    table, _enabled = catalogue()
    table = copy.deepcopy(table)
    for key, value in change.items():
        table[name][key] = value
    return table


@pytest.mark.parametrize('table, enabled, words', [
    (_with('vault', storage={'class': 'proxmox-zfs', 'size': '10Gi', 'class_paths': ['server.dataStorage.storageClass']}),
     ['cert-manager', 'vault'],
     'Service vault is critical and must keep its data on site fsn1, but storage class proxmox-zfs is on site home.'),
    (_with('harbor', storage={'class': 'hcloud-volumes', 'size': '1Gi'}), ['cert-manager', 'harbor'],
     'Service harbor is storage-heavy and must keep its data on site home, but storage class hcloud-volumes is on site fsn1.'),
    (_with('vault', replicas={'count': 4, 'paths': []}), ['cert-manager', 'vault'],
     'Service vault keeps a Raft quorum and needs an odd number of replicas, at least 3 (asked: 4).'),
    (_with('vault', replicas={'count': 5, 'paths': []}), ['cert-manager', 'vault'],
     'Service vault asks for 5 replicas, one per control plane, but the cluster has 3 control plane(s).'),
    (_with('vault', tier='storage-heavy', storage={}), ['cert-manager', 'vault'],
     'Service vault runs on the control planes, which are on the VPS site, so its tier must be critical.'),
    (_with('gitea', chart={'url': 'https://dl.gitea.com/charts/', 'name': 'gitea', 'version': '>=12.0.0'}),
     ['gitea', 'authentik', 'vault', 'cert-manager'],
     "Service gitea pins chart version '>=12.0.0', which is not an exact version (ranges are refused so a rerun installs the same chart)."),
    (None, ['vault'], 'Service vault depends on cert-manager, which is not enabled.'),
    (_with('cert-manager', depends_on=['vault']), ['cert-manager', 'vault'],
     'The depends_on of services form a cycle: cert-manager -> vault -> cert-manager.'),
    (None, ['vault', 'nextcloud'], 'Service(s) nextcloud are not in the catalogue'),
    (_with('vault', storage={'class': 'fast-ssd', 'size': '1Gi'}), ['cert-manager', 'vault'],
     'Service vault asks for storage class fast-ssd, which is on no site of gitops_storage_classes (hcloud-volumes, proxmox-zfs).'),
])
def test_a_broken_rule_is_refused_with_one_sentence(table, enabled, words):
    with pytest.raises(sc.CatalogueError) as raised:
        plan(table, enabled)
    assert str(raised.value).startswith(words), str(raised.value)
    assert raised.value.reason == 'placement_refused'


def test_fewer_control_planes_refuse_three_vault_replicas():
    with pytest.raises(sc.CatalogueError, match='the cluster has 1 control plane'):
        plan(control_planes=1)


def test_the_report_names_service_site_and_class():
    _services, table = plan(enabled=['cert-manager', 'vault'])
    lines = sc.report_lines(table)
    assert lines[0].split()[:4] == ['SERVICE', 'NAMESPACE', 'TIER', 'SITE']
    assert lines[2].split() == ['vault', 'vault', 'critical', 'fsn1', 'control', 'planes', '3', 'hcloud-volumes', '10Gi']


def test_set_path_merges_at_the_top_and_builds_nested_keys():
    values = {'a': 1}
    sc.set_path(values, '', {'b': 2})
    sc.set_path(values, 'c.d.e', 3)
    assert values == {'a': 1, 'b': 2, 'c': {'d': {'e': 3}}}
