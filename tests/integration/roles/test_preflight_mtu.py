"""The preflight role's MTU budget: printed per site, and a site whose underlay is too small fails with the numbers."""
import yaml

PLAY = [{'name': 'preflight', 'hosts': 'localhost', 'gather_facts': False, 'roles': [{'role': 'hybridops.talos.preflight'}]}]


def inventory(tmp_path, vps_mtu=None):
    vps = {'talos_site': 'vps'}
    if vps_mtu:
        vps['talos_underlay_mtu'] = vps_mtu
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {'ansible_connection': 'local'}}, 'children': {
        'talos_controlplane': {'hosts': {'vps-0': dict(vps), 'vps-1': dict(vps), 'home-cp-0': {'talos_site': 'home'}}},
        'talos_worker': {'hosts': {'home-w-0': {'talos_site': 'home'}}}}}}))
    return str(path)


def test_the_budget_is_printed_per_site(run_playbook, tmp_path):
    run = run_playbook(PLAY, '-e', 'talos_cluster_underlay_mtu=1450', inventory=inventory(tmp_path, vps_mtu=1450))
    assert run.rc == 0, run.failures()
    lines = run.result('hybridops.talos.preflight : Show the MTU budget')['msg']
    assert lines[1].split() == ['home', '1450', '1370', '1370', '1320', 'yes']
    assert lines[2].split() == ['vps', '1450', '1370', '1370', '1320', 'yes']


def test_a_site_with_a_smaller_underlay_fails_before_any_change(run_playbook, tmp_path):
    run = run_playbook(PLAY, inventory=inventory(tmp_path, vps_mtu=1450))
    assert run.rc != 0
    (failure,) = run.failures()
    assert 'site vps' in failure and '1450 - 80 = 1370' in failure and 'configs get 1420' in failure, failure


def test_an_explicit_cilium_mtu_must_equal_the_kubespan_mtu(run_playbook, tmp_path):
    run = run_playbook(PLAY, '-e', 'talos_cluster_cilium_mtu=1500', inventory=inventory(tmp_path))
    assert run.rc != 0
    (failure,) = run.failures()
    assert 'Cilium MTU 1500' in failure and 'KubeSpan MTU 1420' in failure, failure
