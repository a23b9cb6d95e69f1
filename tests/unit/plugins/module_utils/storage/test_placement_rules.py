"""The hybrid placement rules on hand-made cluster objects: each rule passes on a right cluster and names the object
that breaks it on a wrong one."""
from ansible_collections.hybridops.talos.plugins.module_utils import _placement

HCLOUD, PVE = 'csi.hetzner.cloud', 'csi.proxmox.sinextra.dev'
DRIVERS = [{'name': HCLOUD, 'sites': ['fsn']}, {'name': PVE, 'sites': ['home']}]


def node(name, site, **labels):
    return {'metadata': {'name': name, 'labels': dict({'hybridops.io/site': site}, **labels)}}


NODES = [node('vps-0', 'fsn', **{'csi.hetzner.cloud/location': 'fsn1'}),
         node('vps-1', 'fsn', **{'csi.hetzner.cloud/location': 'fsn1'}),
         node('home-w-0', 'home', **{'topology.kubernetes.io/region': 'lab', 'topology.kubernetes.io/zone': 'pve1'}),
         node('home-w-1', 'home', **{'topology.kubernetes.io/region': 'lab', 'topology.kubernetes.io/zone': 'pve2'})]


def csinode(name, *drivers):
    return {'metadata': {'name': name}, 'spec': {'drivers': [{'name': d} for d in drivers]}}


CSINODES = [csinode('vps-0', HCLOUD), csinode('vps-1', HCLOUD), csinode('home-w-0', PVE), csinode('home-w-1', PVE)]
CSIDRIVERS = [{'metadata': {'name': HCLOUD}}, {'metadata': {'name': PVE}}]


def sc(name, provisioner, key=None, values=(), default=False, binding='WaitForFirstConsumer'):
    obj = {'metadata': {'name': name, 'annotations': {_placement.DEFAULT_CLASS_ANNOTATION: 'true' if default else 'false'}},
           'provisioner': provisioner, 'volumeBindingMode': binding}
    if key:
        obj['allowedTopologies'] = [{'matchLabelExpressions': [{'key': key, 'values': list(values)}]}]
    return obj


CLASSES = [sc('hcloud-volumes', HCLOUD, 'csi.hetzner.cloud/location', ['fsn1'], default=True),
           sc('proxmox-zfs', PVE, 'topology.kubernetes.io/region', ['lab'])]


def pods(*nodes):
    return [{'spec': {'nodeName': n}} for n in nodes]


def judge(**changes):
    args = dict(drivers=DRIVERS, nodes=NODES, csinodes=CSINODES, csidrivers=CSIDRIVERS, storage_classes=CLASSES,
                plugin_pods={HCLOUD: pods('vps-0', 'vps-1'), PVE: pods('home-w-0', 'home-w-1')}, site_label='hybridops.io/site')
    args.update(changes)
    return _placement.judge(**args)


def test_a_right_cluster_passes_and_the_table_says_where_each_class_goes():
    table, violations, warnings = judge()
    assert violations == [] and warnings == []
    assert [(r['storage_class'], r['sites'], r['nodes'], r['default']) for r in table] == [
        ('hcloud-volumes', ['fsn'], ['vps-0', 'vps-1'], True), ('proxmox-zfs', ['home'], ['home-w-0', 'home-w-1'], False)]
    lines = _placement.render(table)
    assert lines[0].split() == ['CLASS', 'PROVISIONER', 'SITE', 'BINDING', 'NODES']
    assert lines[1].startswith('hcloud-volumes (default)') and lines[1].endswith('vps-0, vps-1')


def test_what_a_removed_node_leaves_behind_for_the_garbage_collector_breaks_no_rule():
    # remove-node.yml deleted the Node vps-2: its CSINode and its node plugin pod (one terminating) linger a while.
    leftovers = dict(csinodes=CSINODES + [csinode('vps-2', HCLOUD)],
                     plugin_pods={HCLOUD: pods('vps-0', 'vps-1', 'vps-2') + [
                         {'metadata': {'deletionTimestamp': '2026-12-05T00:00:00Z'}, 'spec': {'nodeName': 'home-w-0'}}],
                         PVE: pods('home-w-0', 'home-w-1')})
    _table, violations, _warnings = judge(**leftovers)
    assert violations == []


def test_the_chart_default_affinity_is_caught_by_the_node_plugin_pods_on_the_other_site():
    _table, violations, _warnings = judge(plugin_pods={HCLOUD: pods('vps-0', 'vps-1', 'home-w-0', 'home-w-1'), PVE: []})
    assert violations == ['the node plugin of csi.hetzner.cloud has pods on node(s) home-w-0, home-w-1, outside site fsn']


def test_a_driver_missing_on_a_node_of_its_site_or_present_elsewhere_is_named():
    csinodes = [csinode('vps-0', HCLOUD), csinode('vps-1'), csinode('home-w-0', PVE, HCLOUD), csinode('home-w-1', PVE)]
    _table, violations, _warnings = judge(csinodes=csinodes)
    assert violations == ['CSI driver csi.hetzner.cloud is not registered on node(s) vps-1 of site fsn',
                          'CSI driver csi.hetzner.cloud is registered on node(s) home-w-0, outside site fsn']


def test_a_class_without_topology_lets_pods_onto_the_other_site():
    classes = [sc('hcloud-volumes', HCLOUD), CLASSES[1]]
    _table, violations, _warnings = judge(storage_classes=classes)
    assert violations == ['StorageClass hcloud-volumes lets volumes and their pods onto node(s) home-w-0, home-w-1, outside site '
                          'fsn (it has no allowedTopologies)']


def test_a_class_that_admits_no_node_and_two_defaults_are_violations_and_immediate_binding_a_warning():
    classes = [sc('hcloud-volumes', HCLOUD, 'csi.hetzner.cloud/location', ['nbg1'], default=True),
               sc('proxmox-zfs', PVE, 'topology.kubernetes.io/region', ['lab'], default=True, binding='Immediate')]
    _table, violations, warnings = judge(storage_classes=classes)
    assert violations == ['StorageClasses hcloud-volumes, proxmox-zfs are all marked default (at most one may be)',
                          'StorageClass hcloud-volumes admits no node at all, so its claims stay Pending']
    assert warnings and 'proxmox-zfs binds Immediately' in warnings[0]


def test_a_driver_that_is_not_installed_is_one_violation_not_a_cascade():
    _table, violations, _warnings = judge(csidrivers=[{'metadata': {'name': PVE}}])
    assert violations == ['CSIDriver csi.hetzner.cloud is not installed']


def test_classes_of_other_provisioners_are_listed_with_the_sites_they_reach():
    table, violations, _warnings = judge(storage_classes=CLASSES + [sc('local-path', 'rancher.io/local-path')])
    assert violations == []
    assert table[1]['storage_class'] == 'local-path' and table[1]['sites'] == ['fsn', 'home']


def test_a_tainted_control_plane_of_the_site_may_go_without_the_plugin_unless_a_plugin_pod_crashed_there():
    tainted = dict(node('home-cp-0', 'home', **{'topology.kubernetes.io/region': 'lab'}),
                   spec={'taints': [{'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'}]})
    _table, violations, _warnings = judge(nodes=NODES + [tainted])
    assert violations == []
    _table, violations, _warnings = judge(nodes=NODES + [tainted],
                                          plugin_pods={HCLOUD: pods('vps-0', 'vps-1'), PVE: pods('home-w-0', 'home-w-1', 'home-cp-0')})
    assert violations == ['CSI driver csi.proxmox.sinextra.dev is not registered on node(s) home-cp-0 of site home']
