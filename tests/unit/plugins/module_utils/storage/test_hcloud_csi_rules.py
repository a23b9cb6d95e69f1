"""The Hetzner CSI rules that need no cluster: version support, StorageClass options, the default class, values."""
import pytest

from ansible_collections.hybridops.talos.plugins.module_utils import _hcloud_csi as csi
from ansible_collections.hybridops.talos.plugins.module_utils._kube.errors import KubeError

PARAMS = dict(secret_name='hcloud', namespace='kube-system', flux_namespace='flux-system', release_name='hcloud-csi',
              chart_repository=csi.CHART_REPOSITORY, interval='30m0s', version='2.20.2', hcloud_token='t0ken-canary',
              hcloud_endpoint=None, storage_classes=[{'name': 'hcloud-volumes', 'default': True}])


@pytest.mark.parametrize('kubernetes', ['v1.32.4', 'v1.33.0', '1.36.1'])
def test_the_pinned_chart_runs_on_the_kubernetes_versions_its_policy_lists(kubernetes):
    assert csi.check_version('2.20.2', kubernetes) == '2.20.2'


def test_a_kubernetes_older_than_the_chart_supports_is_refused_with_the_range():
    with pytest.raises(KubeError) as caught:
        csi.check_version('2.22.1', 'v1.32.4')
    assert caught.value.reason == 'unsupported_kubernetes'
    assert '1.33 to 1.36' in caught.value.message and 'runs 1.32' in caught.value.message and 'use version 2.20.2' in caught.value.message


def test_a_chart_version_nobody_checked_is_refused_with_the_known_ones():
    with pytest.raises(KubeError) as caught:
        csi.check_version('2.9.0', 'v1.32.4')
    assert caught.value.reason == 'unsupported_version' and '2.20.2 (Kubernetes 1.32-1.36)' in caught.value.message


def test_two_default_classes_are_refused_by_name():
    with pytest.raises(KubeError) as caught:
        csi.check_storage_classes([{'name': 'a', 'default': True}, {'name': 'b', 'default': True}])
    assert 'a and b' in caught.value.message


@pytest.mark.parametrize('name', ['Upper', '', 'a_b', None])
def test_a_class_name_the_api_would_refuse_is_refused_first(name):
    with pytest.raises(KubeError):
        csi.check_storage_classes([{'name': name}])


def _sc(name, default):
    return {'metadata': {'name': name, 'annotations': {csi.DEFAULT_CLASS_ANNOTATION: 'true' if default else 'false'}}}


def test_taking_the_default_from_another_class_is_refused_and_names_the_holder():
    with pytest.raises(KubeError) as caught:
        csi.check_default_holder([{'name': 'hcloud-volumes', 'default': True}], [_sc('proxmox-zfs', True)])
    assert caught.value.reason == 'default_class_taken' and 'proxmox-zfs already holds' in caught.value.message


def test_the_holder_is_reported_when_nothing_asks_for_the_default():
    assert csi.check_default_holder([{'name': 'hcloud-volumes'}], [_sc('proxmox-zfs', True)]) == 'proxmox-zfs'
    assert csi.check_default_holder([{'name': 'hcloud-volumes', 'default': True}], [_sc('hcloud-volumes', True)]) == 'hcloud-volumes'


def test_the_values_keep_every_part_on_hetzner_nodes_and_the_token_out_of_them():
    values = csi.values(PARAMS, 'fsn1')
    term = values['node']['affinity']['nodeAffinity']['requiredDuringSchedulingIgnoredDuringExecution']['nodeSelectorTerms'][0]
    assert term['matchExpressions'] == [{'key': 'instance.hetzner.cloud/provided-by', 'operator': 'In', 'values': ['cloud']}]
    assert values['controller']['affinity'] == values['node']['affinity']
    assert values['controller']['hcloudVolumeDefaultLocation'] == 'fsn1' and values['storageClasses'] == []
    assert 't0ken-canary' not in repr(values) and 'extraEnvVars' not in values['controller']


def test_a_private_endpoint_reaches_the_driver_too():
    values = csi.values(dict(PARAMS, hcloud_endpoint='http://127.0.0.1:8080/v1/'), 'fsn1')
    assert values['controller']['extraEnvVars'] == [{'name': 'HCLOUD_ENDPOINT', 'value': 'http://127.0.0.1:8080/v1'}]


def test_each_class_waits_for_its_first_consumer_and_allows_only_hetzner_locations():
    sc = csi.storage_class({'name': 'fast', 'reclaim_policy': 'Retain', 'fstype': 'xfs'}, ['nbg1'])
    assert sc['volumeBindingMode'] == 'WaitForFirstConsumer' and sc['reclaimPolicy'] == 'Retain'
    assert sc['parameters'] == {'csi.storage.k8s.io/fstype': 'xfs'}
    assert sc['allowedTopologies'] == [{'matchLabelExpressions': [{'key': 'csi.hetzner.cloud/location', 'values': ['nbg1']}]}]


def test_the_node_plugin_placement_names_both_kinds_of_mistake():
    nodes = [{'metadata': {'name': n, 'labels': labels}} for n, labels in
             (('vps-0', {csi.PROVIDED_BY: 'cloud'}), ('vps-1', {csi.PROVIDED_BY: 'cloud'}), ('home-w-0', {}))]
    pods = [{'spec': {'nodeName': 'vps-0'}}, {'spec': {'nodeName': 'home-w-0'}}]
    assert csi.misplaced(pods, nodes) == (['vps-1'], ['home-w-0'])


def test_pods_of_a_removed_node_and_terminating_pods_do_not_count_as_placed():
    # remove-node.yml deletes the Node; its DaemonSet pods stay until the pod garbage collector deletes them.
    nodes = [{'metadata': {'name': 'vps-0', 'labels': {csi.PROVIDED_BY: 'cloud'}}}]
    pods = [{'metadata': {}, 'spec': {'nodeName': 'vps-0'}},
            {'metadata': {}, 'spec': {'nodeName': 'vps-w-0'}},
            {'metadata': {'deletionTimestamp': '2026-12-05T00:00:00Z'}, 'spec': {'nodeName': 'vps-0'}}]
    assert csi.placed_on(pods, nodes) == {'vps-0'}
    assert csi.misplaced(pods, nodes) == ([], [])
    assert csi.misplaced(pods[2:], nodes) == (['vps-0'], [])  # only a terminating pod: not running there


def test_the_objects_are_the_secret_the_flux_source_and_release_and_the_classes():
    objects = csi.objects(dict(PARAMS, locations=['fsn1', 'nbg1']), 'fsn1', network_id=42)
    assert [o['kind'] for o in objects] == ['Secret', 'HelmRepository', 'HelmRelease', 'StorageClass']
    secret = objects[0]
    assert secret['metadata'] == {'name': 'hcloud', 'namespace': 'kube-system'} and set(secret['data']) == {'token', 'network'}
    release = objects[2]['spec']
    assert release['chart']['spec']['version'] == '2.20.2' and release['chart']['spec']['sourceRef']['namespace'] == 'flux-system'
    assert 't0ken-canary' not in repr(objects[1:])
    assert objects[3]['allowedTopologies'][0]['matchLabelExpressions'][0]['values'] == ['fsn1', 'nbg1']
