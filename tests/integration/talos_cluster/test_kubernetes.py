"""site.yml's Kubernetes stage against the lab: Cilium from the inline manifest, every node Ready, the waits.

The lab's Talos nodes apply the control planes' inline manifests through the lab's API server; its
kubelets run the ``cilium install`` Job through the cilium-cli container hook (lab/kube/cilium.py),
which creates the Cilium DaemonSet, and a node turns Ready once a Cilium agent runs on it.
"""
# pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures as arguments
import json
import os
import subprocess

import pytest
import yaml

from test_site import changed_tasks, failures, module_task, run_once_result, site as site_yml, total_changed

pytestmark = pytest.mark.lab

LAB_PREFIX = 'tca-'
NODES = ['home-cp-0', 'home-w-0', 'home-w-1', 'vps-0', 'vps-1']


def site(run_playbook, lab, secrets_dir, *args, **extra_vars):
    """site.yml with the lab's Flux variables (LAB_FLUX_* from its .lab/env), as make demo runs it: Flux on."""
    flux = {key: value for key, value in lab.env.items() if key.startswith('LAB_FLUX_')}
    assert flux, 'python -m lab up wrote no LAB_FLUX_* lines'
    return site_yml(run_playbook, lab, secrets_dir, *args, env=flux, **extra_vars)


@pytest.fixture(scope='module')
def secrets_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('kube') / 'secrets')


@pytest.fixture(scope='module')
def converged(run_playbook_module, talos_lab, secrets_dir):
    return site(run_playbook_module, talos_lab, secrets_dir)


def kubectl(secrets_dir, *args):
    env = dict(os.environ, KUBECONFIG=os.path.join(secrets_dir, 'kubeconfig'))
    return subprocess.run(['kubectl'] + list(args), env=env, capture_output=True, text=True, timeout=60, check=False)


def running_config(talos_lab, secrets_dir, name):
    with open(os.path.join(secrets_dir, 'configs', name + '.yaml'), encoding='utf-8') as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def test_nodes_turn_ready_with_cilium_from_the_inline_manifest(run_playbook, talos_lab, secrets_dir, converged):
    assert converged.rc == 0, failures(converged)
    plan = run_once_result(converged, 'Decide whether the control-plane configs carry the Cilium install manifest')
    assert plan['install'] is True and 'new cluster' in plan['reason'], plan
    assert plan['mtu'] == 1420 and plan['values']['tunnelProtocol'] == 'vxlan'

    waited = run_once_result(converged, 'Check that every node is Ready and Cilium runs on each of them')
    assert sorted(n['name'] for n in waited['nodes']) == NODES
    assert all(n['ready'] for n in waited['nodes']), waited['nodes']
    sites = {n['name']: n['site'] for n in waited['nodes']}
    assert sites == {'home-cp-0': 'home', 'home-w-0': 'home', 'home-w-1': 'home', 'vps-0': 'vps', 'vps-1': 'vps'}
    assert all(o['ready'] for o in waited['objects']), waited['objects']
    assert [o['kind'] for o in waited['objects']] == ['Job', 'DaemonSet', 'Deployment']

    # The manifest is in every control-plane config, identical, and in no worker's.
    manifests = {}
    for name in NODES:
        docs = running_config(talos_lab, secrets_dir, name)
        inline = [m for d in docs for m in (d.get('cluster') or {}).get('inlineManifests') or ()]
        manifests[name] = inline
    assert not manifests['home-w-0'] and not manifests['home-w-1']
    assert manifests['vps-0'] == manifests['vps-1'] == manifests['home-cp-0']
    assert [m['name'] for m in manifests['vps-0']] == ['cilium-install']
    job = [d for d in yaml.safe_load_all(manifests['vps-0'][0]['contents']) if d['kind'] == 'Job'][0]
    command = job['spec']['template']['spec']['containers'][0]['command']
    assert '--set' in command and 'MTU=1420' in command and 'tunnelProtocol=vxlan' in command
    assert job['spec']['template']['spec']['hostNetwork'] is True
    assert not job['spec']['template']['spec']['containers'][0]['image'].endswith(':latest')

    # Real kubectl with the kubeconfig site.yml wrote: roles and site labels, Cilium rolled out, its config.
    nodes = kubectl(secrets_dir, 'get', 'nodes', '-L', 'hybridops.io/site')
    assert nodes.returncode == 0, nodes.stderr
    lines = {line.split()[0]: line.split() for line in nodes.stdout.splitlines()[1:]}
    assert sorted(lines) == NODES
    assert all(cols[1] == 'Ready' for cols in lines.values()), nodes.stdout
    assert lines['vps-0'][2] == 'control-plane' and lines['home-w-0'][2] == 'worker', nodes.stdout
    assert lines['home-w-1'][-1] == 'home' and lines['vps-1'][-1] == 'vps', nodes.stdout
    rollout = kubectl(secrets_dir, '-n', 'kube-system', 'rollout', 'status', 'ds/cilium', '--timeout=30s')
    assert rollout.returncode == 0, rollout.stderr
    config = json.loads(kubectl(secrets_dir, '-n', 'kube-system', 'get', 'configmap', 'cilium-config', '-o', 'json').stdout)
    assert config['data']['mtu'] == '1420' and config['data']['tunnel-protocol'] == 'vxlan', config['data']


def test_site_installs_flux_from_the_lab_s_checked_manifest_after_the_nodes_are_ready(talos_lab, secrets_dir, converged):
    assert converged.rc == 0, failures(converged)
    flux = run_once_result(converged, 'Install Flux')
    assert flux['changed'] is True and flux['sha256'] == talos_lab.env['LAB_FLUX_INSTALL_SHA256'], flux
    assert flux['source'].startswith(talos_lab.env['LAB_FLUX_RELEASES_URL'])
    assert all(c['ready'] for c in flux['controllers']) and len(flux['controllers']) == 4, flux['controllers']
    assert run_once_result(converged, 'Connect Flux to the GitOps repository').get('skipped') is True
    deploy = kubectl(secrets_dir, '-n', 'flux-system', 'get', 'deploy')
    assert deploy.returncode == 0, deploy.stderr
    rows = [line.split() for line in deploy.stdout.splitlines()[1:]]
    assert sorted(row[0] for row in rows) == ['helm-controller', 'kustomize-controller', 'notification-controller', 'source-controller']
    assert all(row[1] == '1/1' for row in rows), deploy.stdout


def test_site_hands_the_cilium_it_installed_to_flux_unchanged(secrets_dir, converged):
    handed = run_once_result(converged, 'Hand Cilium over to Flux')
    assert handed['changed'] is True and handed['handed_over'] is False, handed
    assert handed['release'] == {'name': 'cilium', 'namespace': 'kube-system', 'revision': 1, 'chart': 'cilium', 'version': '1.18.3'}
    release = kubectl(secrets_dir, '-n', 'kube-system', 'get', 'helmrelease', 'cilium', '-o', 'json')
    assert release.returncode == 0, release.stderr
    found = json.loads(release.stdout)
    assert found['spec']['values']['MTU'] == 1420 and found['spec']['values']['tunnelProtocol'] == 'vxlan', found['spec']['values']
    ready = [c for c in found['status']['conditions'] if c['type'] == 'Ready'][0]
    assert ready['status'] == 'True' and ready['message'].endswith('kube-system/cilium.v2 with chart cilium@1.18.3'), ready


def test_the_second_run_changes_nothing_and_keeps_the_manifest(run_playbook, talos_lab, secrets_dir, converged):
    second = site(run_playbook, talos_lab, secrets_dir)
    assert second.rc == 0, failures(second)
    assert total_changed(second) == 0, changed_tasks(second)
    plan = run_once_result(second, 'Decide whether the control-plane configs carry the Cilium install manifest')
    assert plan['install'] is True and plan['installed_by'] == 'hybridops.talos', plan
    assert 'kept as it is' in plan['reason']


def test_a_job_that_keeps_no_kubeconfig_reads_through_a_scratch_copy_in_check_mode_too(run_playbook, talos_lab, secrets_dir, converged):
    # As an AWX job runs it: no kubeconfig kept, first in check mode, then for real; Flux reads the same scratch copy.
    scratch = os.path.join(secrets_dir, 'kubeconfig.scratch')
    for args in (('--check', '--diff'), ()):
        run = site(run_playbook, talos_lab, secrets_dir, *args, talos_cluster_kubeconfig='')
        assert run.rc == 0, failures(run)
        assert total_changed(run) == 0, changed_tasks(run)
        assert run_once_result(run, 'Install Flux')['changed'] is False
        assert not os.path.exists(scratch), 'the scratch kubeconfig outlived the run'
    assert run_once_result(run, 'Hand Cilium over to Flux')['handed_over'] is True


def test_changing_cilium_after_the_install_is_refused_and_points_at_flux(run_playbook, talos_lab, secrets_dir, converged):
    before = {name: running_config(talos_lab, secrets_dir, name) for name in ('vps-0', 'home-w-0')}
    run = site(run_playbook, talos_lab, secrets_dir, talos_cluster_cilium_values={'hubble.enabled': True})
    assert run.rc != 0
    found = failures(run)
    assert any('Decide whether' in line and 'never updates what an inline manifest created' in line and 'Flux' in line
               and 'hubble.enabled: (unset) -> true' in line for line in found), found
    assert total_changed(run) == 0, changed_tasks(run)
    assert {name: running_config(talos_lab, secrets_dir, name) for name in before} == before


def test_a_cilium_value_the_design_fixes_is_refused_before_anything_is_written(run_playbook, talos_lab, secrets_dir, converged):
    run = site(run_playbook, talos_lab, secrets_dir, talos_cluster_cilium_values={'tunnelProtocol': 'geneve'})
    assert run.rc != 0
    found = failures(run)
    assert any('tunnelProtocol cannot be set here' in line and 'VXLAN' in line for line in found), found
    assert total_changed(run) == 0, changed_tasks(run)


def test_the_wait_names_a_node_that_is_not_ready_and_why(run_playbook, talos_lab, secrets_dir, converged):
    args = {'kubeconfig': os.path.join(secrets_dir, 'kubeconfig'), 'nodes': NODES + ['ghost-0'], 'wait_timeout': 3,
            'objects': [{'api_version': 'apps/v1', 'kind': 'DaemonSet', 'namespace': 'kube-system', 'name': 'cilium'},
                        {'api_version': 'apps/v1', 'kind': 'Deployment', 'namespace': 'kube-system', 'name': 'nowhere'}]}
    run = module_task(run_playbook, talos_lab, 'hybridops.talos.kube_wait', args)
    assert run.rc != 0
    result = run_once_result(run, 'task')
    assert 'ghost-0' in result['msg'] and 'not registered' in result['msg'], result['msg']
    assert 'kube-system/nowhere' in result['msg'] and 'not found' in result['msg'], result['msg']
    assert result['failure']['reason'] == 'not_ready', result['failure']
    assert not [n for n in result['nodes'] if n['name'] != 'ghost-0' and not n['ready']], result['nodes']


def test_never_takes_the_manifest_out_and_talos_leaves_cilium_running(run_playbook, talos_lab, secrets_dir, converged):
    run = site(run_playbook, talos_lab, secrets_dir, talos_cluster_cilium_install='never')
    assert run.rc == 0, failures(run)
    changed = sorted(changed_tasks(run))
    assert [line.split(' / ')[0] for line in changed] == ['home-cp-0', 'vps-0', 'vps-1'], changed
    assert all(line.endswith('Render, validate and apply the machine config, one control plane at a time') for line in changed), changed
    for name in ('home-cp-0', 'vps-0', 'vps-1'):
        assert not [d for d in running_config(talos_lab, secrets_dir, name) if (d.get('cluster') or {}).get('inlineManifests')]
    waited = run_once_result(run, 'Check that every node is Ready and Cilium runs on each of them')
    assert all(n['ready'] for n in waited['nodes']) and waited['objects'] == []


def test_a_cilium_nobody_of_ours_installed_is_adopted_untouched(run_playbook, talos_lab, secrets_dir, converged):
    # After the test above the configs carry no manifest of ours, yet Cilium runs: someone else's, as far as the
    # evidence goes (the existing VPS control planes are in this state).
    run = site(run_playbook, talos_lab, secrets_dir)
    assert run.rc == 0, failures(run)
    assert total_changed(run) == 0, changed_tasks(run)
    plan = run_once_result(run, 'Decide whether the control-plane configs carry the Cilium install manifest')
    assert plan['install'] is False and plan['installed_by'] == 'other', plan
    assert 'left alone' in plan['reason'] and 'Helm release kube-system/cilium' in plan['reason'], plan
    assert any('a kube-system/cilium DaemonSet runs' in line for line in plan['evidence']), plan['evidence']
    waited = run_once_result(run, 'Check that every node is Ready and Cilium runs on each of them')
    assert [o['kind'] for o in waited['objects']] == ['DaemonSet', 'Deployment'] and all(o['ready'] for o in waited['objects'])
