"""Storage on the cluster site.yml built from nothing (storage_enabled, as in make demo): the Hetzner CSI driver on the
Hetzner nodes only and the Proxmox CSI plugin on the Proxmox nodes only, classes that keep volumes and pods on their
site, checked by storage_placement, claims of each class provisioned by the drivers' controllers at the Hetzner and
Proxmox stand-ins (with the tokens hcloud_csi and proxmox_csi wrote) and their pods on the right site, and the
hcloud_csi module's refusals and round trip - real Flux objects through the lab's helm-controller, which renders both
charts."""
# pylint: disable=redefined-outer-name  # pytest fixtures as arguments
import json
import os
import ssl
import urllib.parse
import urllib.request

import pytest
from provision_lab import once, wait_for

pytestmark = pytest.mark.lab

HETZNER = ('vps-0', 'vps-1')
HOME = ('home-cp-0', 'home-w-0', 'home-w-1')


@pytest.fixture(scope='module')
def kube(built_cluster):
    built, secrets_dir = built_cluster
    assert built.rc == 0, built
    from kubernetes import client as k8s, config  # pylint: disable=import-outside-toplevel
    api = config.new_client_from_config(config_file=os.path.join(secrets_dir, 'kubeconfig'))
    return dict(core=k8s.CoreV1Api(api), storage=k8s.StorageV1Api(api), apps=k8s.AppsV1Api(api),
                custom=k8s.CustomObjectsApi(api), kubeconfig=os.path.join(secrets_dir, 'kubeconfig'))


def module_play(task):
    return [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [dict(task, register='out')]}]


def csi_task(kube, **options):
    args = dict(kubeconfig=kube['kubeconfig'], location='fsn1', locations=['fsn1', 'nbg1'], wait_timeout=120)  # as site.yml: examples/lab-machines.yml
    args.update(options)
    return {'name': 'hcloud_csi', 'hybridops.talos.hcloud_csi': args}


def test_site_deploys_the_hetzner_driver_on_hetzner_nodes_only_and_prints_the_placement_table(built_cluster, kube):
    built, _secrets = built_cluster
    assert 'csi.hetzner.cloud' in {d.metadata.name for d in kube['storage'].list_csi_driver().items}
    registered = {n.metadata.name: sorted(d.name for d in n.spec.drivers or ()) for n in kube['storage'].list_csi_node().items}
    assert all('csi.hetzner.cloud' in registered.get(name, []) for name in HETZNER), registered
    assert not any('csi.hetzner.cloud' in registered.get(name, []) for name in HOME), registered
    node_plugin = kube['apps'].read_namespaced_daemon_set('hcloud-csi-node', 'kube-system')
    selector = ','.join('%s=%s' % item for item in sorted(node_plugin.spec.selector.match_labels.items()))
    pods = kube['core'].list_namespaced_pod('kube-system', label_selector=selector).items
    assert sorted(p.spec.node_name for p in pods) == sorted(HETZNER)
    placement = once(built, 'Check that each site\'s storage stays on that site')
    assert placement['violations'] == []
    table = {row['storage_class']: row for row in placement['table']}
    assert table['hcloud-volumes']['nodes'] == sorted(HETZNER) and table['hcloud-volumes']['sites'] == ['vps']
    shown = once(built, 'Show where storage can go')['msg']
    assert shown[0].split() == ['CLASS', 'PROVISIONER', 'SITE', 'BINDING', 'NODES'] and any('hcloud-volumes' in line for line in shown)


def _claim(name, storage_class, size='1Gi'):
    return {'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim', 'metadata': {'name': name, 'namespace': 'default'},
            'spec': {'accessModes': ['ReadWriteOnce'], 'storageClassName': storage_class,
                     'resources': {'requests': {'storage': size}}}}


def _pod(name, claim, node_selector=None):
    spec = {'containers': [{'name': 'app', 'image': 'registry.k8s.io/pause:3.10',
                            'volumeMounts': [{'name': 'data', 'mountPath': '/data'}]}],
            'volumes': [{'name': 'data', 'persistentVolumeClaim': {'claimName': claim}}],
            'tolerations': [{'key': 'node-role.kubernetes.io/control-plane', 'operator': 'Exists', 'effect': 'NoSchedule'}]}
    if node_selector:
        spec['nodeSelector'] = node_selector
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': 'default'}, 'spec': spec}


def test_a_pod_pinned_to_the_home_site_with_a_hetzner_claim_stays_pending_and_says_why(kube):
    core = kube['core']
    core.create_namespaced_persistent_volume_claim('default', _claim('data-wrong-site', 'hcloud-volumes'))
    core.create_namespaced_pod('default', _pod('wrong-site', 'data-wrong-site', {'hybridops.io/site': 'home'}))

    def unschedulable():
        pod = core.read_namespaced_pod('wrong-site', 'default')
        condition = next((c for c in pod.status.conditions or () if c.type == 'PodScheduled'), None)
        return condition if condition is not None and condition.reason == 'Unschedulable' else None

    condition = wait_for(unschedulable, 60, 'the scheduler to give up on the pod')
    assert "didn't find available persistent volumes to bind" in condition.message, condition.message
    assert core.read_namespaced_pod('wrong-site', 'default').spec.node_name is None
    assert core.read_namespaced_persistent_volume_claim('data-wrong-site', 'default').status.phase == 'Pending'


def hcloud_volumes(env, name):
    request = urllib.request.Request('%s/volumes?name=%s' % (env['HCLOUD_ENDPOINT'], urllib.parse.quote(name)),
                                     headers={'Authorization': 'Bearer ' + env['HCLOUD_TOKEN']})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)['volumes']


def pve_disks(env, node, storage):
    request = urllib.request.Request('%s/api2/json/nodes/%s/storage/%s/content' % (env['PROXMOX_URL'], node, storage), headers={
        'Authorization': 'PVEAPIToken=%s!%s=%s' % (env['PROXMOX_USER'], env['PROXMOX_TOKEN_ID'], env['PROXMOX_TOKEN_SECRET'])})
    context = ssl.create_default_context(cafile=env['PROXMOX_CA_FILE'])
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return {entry['volid']: entry for entry in json.load(response)['data']}


def _running_on(core, name):
    pod = core.read_namespaced_pod(name, 'default')
    return pod.spec.node_name if pod.status.phase == 'Running' else None


def test_a_claim_of_each_class_gets_a_volume_on_its_site_and_its_pod_runs_there(empty_lab, kube):
    """WaitForFirstConsumer end to end: the scheduler picks a node of the class's site, the driver's controller creates
    the volume there through the stand-in's API with the token our modules stored, the PV binds with node affinity."""
    core, env = kube['core'], empty_lab.env
    core.create_namespaced_persistent_volume_claim('default', _claim('data-vps', 'hcloud-volumes', '1Gi'))
    core.create_namespaced_pod('default', _pod('on-vps', 'data-vps'))
    core.create_namespaced_persistent_volume_claim('default', _claim('data-home', 'proxmox-zfs', '2Gi'))
    core.create_namespaced_pod('default', _pod('on-home', 'data-home'))

    vps_node = wait_for(lambda: _running_on(core, 'on-vps'), 120, 'the pod with the Hetzner claim to run')
    home_node = wait_for(lambda: _running_on(core, 'on-home'), 120, 'the pod with the Proxmox claim to run')
    assert vps_node in HETZNER and home_node in HOME

    hetzner_claim = core.read_namespaced_persistent_volume_claim('data-vps', 'default')
    assert hetzner_claim.status.phase == 'Bound' and hetzner_claim.spec.volume_name == 'pvc-' + hetzner_claim.metadata.uid
    location = core.read_node(vps_node).metadata.labels['topology.kubernetes.io/region']
    [volume] = hcloud_volumes(env, hetzner_claim.spec.volume_name)
    assert volume['location']['name'] == location and volume['size'] == 10  # 1Gi asked, the driver's 10 GB minimum made
    pv = core.read_persistent_volume(hetzner_claim.spec.volume_name)
    assert pv.spec.csi.volume_handle == str(volume['id']) and pv.spec.capacity['storage'] == '10Gi'
    [term] = pv.spec.node_affinity.required.node_selector_terms
    assert [(e.key, e.values) for e in term.match_expressions] == [('csi.hetzner.cloud/location', [location])]

    home_claim = core.read_namespaced_persistent_volume_claim('data-home', 'default')
    assert home_claim.status.phase == 'Bound'
    labels = core.read_node(home_node).metadata.labels
    zone, region = labels['topology.kubernetes.io/zone'], labels['topology.kubernetes.io/region']
    disk = 'local-zfs:vm-9999-' + home_claim.spec.volume_name
    assert disk in pve_disks(env, zone, 'local-zfs') and pve_disks(env, zone, 'local-zfs')[disk]['size'] == 2 * 1024 ** 3
    pv = core.read_persistent_volume(home_claim.spec.volume_name)
    assert pv.spec.csi.volume_handle == '%s/%s/local-zfs/vm-9999-%s' % (region, zone, home_claim.spec.volume_name)

    # Reclaim policy Delete: the claim goes, the PV is released, the controller deletes the disk, then the PV.
    core.delete_namespaced_pod('on-home', 'default', grace_period_seconds=0)
    wait_for(lambda: not core.list_namespaced_pod('default', field_selector='metadata.name=on-home').items, 60, 'the pod to go')
    core.delete_namespaced_persistent_volume_claim('data-home', 'default')
    wait_for(lambda: disk not in pve_disks(env, zone, 'local-zfs'), 60, 'the Proxmox disk to be deleted')
    wait_for(lambda: not core.list_persistent_volume(field_selector='metadata.name=%s' % home_claim.spec.volume_name).items,
             60, 'the PersistentVolume to be deleted')


def test_a_read_only_token_and_an_unsupported_chart_are_refused_before_anything_is_written(run_playbook, empty_lab, kube):
    before = kube['core'].read_namespaced_secret('hcloud', 'kube-system').metadata.resource_version
    env = dict(empty_lab.env, HCLOUD_TOKEN=empty_lab.env['HCLOUD_TOKEN_READONLY'])
    result = run_playbook(module_play(csi_task(kube)), env=env)
    assert result.rc != 0
    failure = result.result('hcloud_csi')
    assert failure['failure']['reason'] == 'token_readonly' and 'read-only' in failure['msg'], failure
    result = run_playbook(module_play(csi_task(kube, version='2.22.1')), env=empty_lab.env)
    failure = result.result('hcloud_csi')
    assert failure['failure']['reason'] == 'unsupported_kubernetes', failure
    assert '1.33 to 1.36' in failure['msg'] and 'use version 2.20.2' in failure['msg']
    assert kube['core'].read_namespaced_secret('hcloud', 'kube-system').metadata.resource_version == before


def test_a_second_run_changes_nothing_and_the_token_never_shows_even_at_vvvv(run_playbook, empty_lab, kube):
    token = empty_lab.env['HCLOUD_TOKEN']
    result = run_playbook(module_play(csi_task(kube)), '-vvvv', '--diff', env=empty_lab.env, json_output=False)
    assert result.rc == 0, result.stdout[-3000:]
    assert 'changed=0' in result.stdout
    assert token not in result.stdout + result.stderr


def test_absent_removes_the_driver_and_leaves_the_volumes_then_present_brings_it_back(run_playbook, empty_lab, kube):
    gone = run_playbook(module_play(csi_task(kube, state='absent')), env=empty_lab.env)
    assert gone.rc == 0, gone
    removed = gone.result('hcloud_csi')
    assert removed['changed'] and {o['kind'] for o in removed['objects']} == {'HelmRelease', 'HelmRepository', 'StorageClass', 'Secret'}
    kept = kube['core'].read_namespaced_persistent_volume_claim('data-vps', 'default').spec.volume_name  # bound above
    assert removed['volumes_left'] == [kept]  # named, and left alone with its data
    assert kube['core'].read_persistent_volume(kept).status.phase == 'Bound'
    wait_for(lambda: not kube['apps'].list_namespaced_daemon_set('kube-system', field_selector='metadata.name=hcloud-csi-node').items,
             90, 'Flux to uninstall the chart')
    assert 'hcloud-volumes' not in {sc.metadata.name for sc in kube['storage'].list_storage_class().items}
    again = run_playbook(module_play(csi_task(kube, state='absent')), env=empty_lab.env)
    assert again.rc == 0 and not again.result('hcloud_csi')['changed']

    back = run_playbook(module_play(csi_task(kube)), env=empty_lab.env)
    assert back.rc == 0, back
    assert back.result('hcloud_csi')['changed'] and sorted(back.result('hcloud_csi')['nodes']) == sorted(HETZNER)
    same = run_playbook(module_play(csi_task(kube)), env=empty_lab.env)
    assert same.rc == 0 and not same.result('hcloud_csi')['changed'], same.result('hcloud_csi')

    # The driver is back, so its volume can go the normal way: claim deleted, Hetzner volume deleted, PV deleted.
    core = kube['core']
    core.delete_namespaced_pod('on-vps', 'default', grace_period_seconds=0)
    wait_for(lambda: not core.list_namespaced_pod('default', field_selector='metadata.name=on-vps').items, 60, 'the pod to go')
    core.delete_namespaced_persistent_volume_claim('data-vps', 'default')
    wait_for(lambda: not hcloud_volumes(empty_lab.env, kept), 60, 'the Hetzner volume to be deleted')
    wait_for(lambda: not core.list_persistent_volume(field_selector='metadata.name=%s' % kept).items, 60, 'the PV to be deleted')
