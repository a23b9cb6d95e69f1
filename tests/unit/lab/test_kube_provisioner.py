"""The pure parts of the lab's CSI provisioner stand-in: sizes, topology and the PersistentVolume it writes."""
import pytest

from lab.kube import provisioner


def _claim(size, modes=('ReadWriteOnce',)):
    return {'metadata': {'name': 'data', 'namespace': 'apps', 'uid': 'u-1', 'resourceVersion': '7'},
            'spec': {'accessModes': list(modes), 'resources': {'requests': {'storage': size}}}}


@pytest.mark.parametrize('text, expected', [('1Gi', 1024 ** 3), ('500Mi', 500 * 1024 ** 2), ('5G', 5e9), ('1073741824', 1024 ** 3)])
def test_quantities_read_as_a_claim_writes_them(text, expected):
    assert provisioner.quantity_bytes(text) == expected


def test_hetzner_sizes_round_up_to_whole_gib_and_at_least_ten():
    assert provisioner._size_gib(_claim('1Gi'), provisioner.HCLOUD_MIN_GB) == 10  # pylint: disable=protected-access
    assert provisioner._size_gib(_claim('10.5Gi'), provisioner.HCLOUD_MIN_GB) == 11  # pylint: disable=protected-access
    assert provisioner._size_gib(_claim('500Mi')) == 1  # pylint: disable=protected-access


def test_the_topology_comes_from_the_selected_node_or_else_the_class():
    hetzner = provisioner.Hetzner.__new__(provisioner.Hetzner)
    hetzner.default_location = 'fsn1'
    assert hetzner.topology({'csi.hetzner.cloud/location': 'nbg1'}, {}) == {'csi.hetzner.cloud/location': 'nbg1'}
    assert hetzner.topology(None, {'csi.hetzner.cloud/location': ['hel1']}) == {'csi.hetzner.cloud/location': 'hel1'}
    assert hetzner.topology(None, {}) == {'csi.hetzner.cloud/location': 'fsn1'}
    with pytest.raises(provisioner.ProvisionError, match='has not registered'):
        hetzner.topology({}, {})
    proxmox = provisioner.Proxmox.__new__(provisioner.Proxmox)
    with pytest.raises(provisioner.ProvisionError, match='topology.kubernetes.io/zone'):
        proxmox.topology({'topology.kubernetes.io/region': 'lab'}, {})


def test_the_persistent_volume_names_its_claim_and_keeps_pods_on_the_volume_s_topology():
    storage_class = {'metadata': {'name': 'fast'}, 'reclaimPolicy': 'Retain', 'parameters': {provisioner.FSTYPE: 'xfs'}}
    volume = provisioner.persistent_volume(provisioner.Hetzner, _claim('1Gi'), storage_class, '42', 10, {},
                                           {'csi.hetzner.cloud/location': 'fsn1'})
    assert volume['metadata'] == {'name': 'pvc-u-1', 'annotations': {provisioner.PROVISIONED_BY: 'csi.hetzner.cloud'}}
    spec = volume['spec']
    assert spec['claimRef']['uid'] == 'u-1' and spec['claimRef']['namespace'] == 'apps'
    assert spec['capacity'] == {'storage': '10Gi'} and spec['persistentVolumeReclaimPolicy'] == 'Retain'
    assert spec['csi']['volumeHandle'] == '42' and spec['csi']['fsType'] == 'xfs'
    assert spec['nodeAffinity']['required']['nodeSelectorTerms'] == [
        {'matchExpressions': [{'key': 'csi.hetzner.cloud/location', 'operator': 'In', 'values': ['fsn1']}]}]


def test_only_a_loopback_endpoint_is_redirected_and_the_tls_name_stays():
    assert provisioner.reach('https://api.hetzner.cloud/v1/volumes') == ('https://api.hetzner.cloud/v1/volumes', 'api.hetzner.cloud')
    url, name = provisioner.reach('https://127.0.0.1:8006/api2/json')
    gateway = provisioner._default_gateway()  # pylint: disable=protected-access
    assert name == '127.0.0.1' and url == ('https://%s:8006/api2/json' % gateway if gateway else 'https://127.0.0.1:8006/api2/json')
