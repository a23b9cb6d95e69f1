"""The lab's stand-ins of the CSI charts and the VolumeBinding filter, on hand-made objects."""
from lab.kube import charts, scheduling, volumes


def _node(name, **labels):
    return {'metadata': {'name': name, 'labels': labels}, 'spec': {}}


HETZNER = _node('vps-0', **{'instance.hetzner.cloud/provided-by': 'cloud', 'csi.hetzner.cloud/location': 'fsn1'})
PROXMOX = _node('home-w-0', **{'topology.kubernetes.io/region': 'lab'})


def _by_kind(objects):
    return {(o['kind'], o['metadata']['name']): o for o in objects}


def test_helm_merges_maps_and_replaces_lists_and_null_deletes():
    merged = charts.merge({'a': {'b': 1, 'c': [1, 2]}, 'd': 1}, {'a': {'c': [3]}, 'd': None})
    assert merged == {'a': {'b': 1, 'c': [3]}}


def test_the_hetzner_chart_defaults_put_the_node_plugin_on_proxmox_vms_too():
    objects = _by_kind(charts.render('hcloud-csi', 'hcloud-csi', 'kube-system', '2.20.2', {}))
    node = objects[('DaemonSet', 'hcloud-csi-node')]['spec']['template']['spec']
    assert scheduling.affinity_matches(node, PROXMOX) and scheduling.affinity_matches(node, HETZNER)
    assert {'effect': 'NoSchedule', 'operator': 'Exists'} in node['tolerations']
    assert objects[('CSIDriver', 'csi.hetzner.cloud')]
    default = objects[('StorageClass', 'hcloud-volumes')]
    assert default['metadata']['annotations']['storageclass.kubernetes.io/is-default-class'] == 'true'


def test_the_values_hcloud_csi_sets_keep_it_on_hetzner_nodes_and_make_no_class():
    required = {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': 'instance.hetzner.cloud/provided-by', 'operator': 'In', 'values': ['cloud']}]}]}}}
    controller = {'affinity': required, 'hcloudVolumeDefaultLocation': 'fsn1',
                  'extraEnvVars': [{'name': 'HCLOUD_ENDPOINT', 'value': 'http://x/v1'}]}
    values = {'node': {'affinity': required}, 'controller': controller, 'storageClasses': []}
    objects = _by_kind(charts.render('hcloud-csi', 'hcloud-csi', 'kube-system', '2.20.2', values))
    node = objects[('DaemonSet', 'hcloud-csi-node')]['spec']['template']['spec']
    assert not scheduling.affinity_matches(node, PROXMOX) and scheduling.affinity_matches(node, HETZNER)
    assert not [k for k in objects if k[0] == 'StorageClass']
    driver = next(c for c in objects[('Deployment', 'hcloud-csi-controller')]['spec']['template']['spec']['containers']
                  if c['name'] == 'hcloud-csi-driver')
    env = {e['name']: e for e in driver['env']}
    assert env['HCLOUD_TOKEN']['valueFrom'] == {'secretKeyRef': {'name': 'hcloud', 'key': 'token'}}
    assert env['HCLOUD_VOLUME_DEFAULT_LOCATION']['value'] == 'fsn1' and env['HCLOUD_ENDPOINT']['value'] == 'http://x/v1'
    assert driver['image'] == 'docker.io/hetznercloud/hcloud-csi-driver:v2.20.2'


def test_the_proxmox_chart_names_and_classes():
    objects = _by_kind(charts.render('proxmox-csi-plugin', 'proxmox-csi-plugin', 'csi-proxmox', '0.5.9',
                                     {'storageClass': [{'name': 'zfs', 'storage': 'local-zfs', 'ssd': True}]}))
    assert ('Deployment', 'proxmox-csi-plugin-controller') in objects and ('DaemonSet', 'proxmox-csi-plugin-node') in objects
    assert objects[('StorageClass', 'zfs')]['parameters'] == {'storage': 'local-zfs', 'csi.storage.k8s.io/fstype': 'ext4', 'ssd': 'true'}
    assert charts.render('some-chart', 'x', 'y', '1.0.0', {}) is None


def _claim(name, storage_class, volume=None):
    return {'metadata': {'name': name, 'namespace': 'default'},
            'spec': dict({'storageClassName': storage_class}, **({'volumeName': volume} if volume else {}))}


def _pod(*claims):
    return {'metadata': {'name': 'p', 'namespace': 'default'},
            'spec': {'volumes': [{'name': c, 'persistentVolumeClaim': {'claimName': c}} for c in claims]}}


HCLOUD_CLASS = {'metadata': {'name': 'hcloud-volumes'}, 'volumeBindingMode': 'WaitForFirstConsumer',
                'allowedTopologies': [{'matchLabelExpressions': [{'key': 'csi.hetzner.cloud/location', 'values': ['fsn1']}]}]}


def test_a_wait_for_first_consumer_claim_admits_only_its_topology_and_names_the_reason():
    needs = volumes.needs(_pod('data'), {('default', 'data'): _claim('data', 'hcloud-volumes')}, {}, {'hcloud-volumes': HCLOUD_CLASS})
    assert needs.error is None and len(needs.waiting) == 1
    assert needs.reason(HETZNER) is None and needs.reason(PROXMOX) == volumes.BIND_CONFLICT
    name, message = scheduling.choose({}, [PROXMOX], {}, volumes=needs)
    assert name is None and "1 node(s) didn't find available persistent volumes to bind" in message


def test_a_bound_claim_follows_its_volume_s_node_affinity_and_a_missing_claim_stops_the_pod():
    pv = {'metadata': {'name': 'pv-1'}, 'spec': {'nodeAffinity': {'required': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': 'topology.kubernetes.io/region', 'operator': 'In', 'values': ['lab']}]}]}}}}
    needs = volumes.needs(_pod('data'), {('default', 'data'): _claim('data', 'x', 'pv-1')}, {'pv-1': pv}, {})
    assert needs.reason(PROXMOX) is None and needs.reason(HETZNER) == volumes.NODE_CONFLICT and not needs.waiting
    missing = volumes.needs(_pod('gone'), {}, {}, {})
    _name, message = scheduling.choose({}, [HETZNER, PROXMOX], {}, volumes=missing)
    assert message.startswith('0/2 nodes are available: persistentvolumeclaim "gone" not found.')
