"""The AWX job templates of extensions/awx, run as AWX runs them (credentials injected by their credential types,
ansible-runner in a fresh folder for every job) against the cluster the laptop path built in the same empty lab."""
# pylint: disable=redefined-outer-name  # pytest fixtures as arguments
import os

import pytest
import yaml

import awx_jobs
from provision_lab import MACHINES

pytestmark = pytest.mark.lab

ROOT = awx_jobs.ROOT


def test_credential_types_pass_awx_checks_and_surveys_come_from_the_argument_specs():
    for ctype in awx_jobs.credential_types().values():
        awx_jobs.validate(ctype)
    templates = awx_jobs.job_templates()
    assert sorted(templates) == ['hybridops.talos converge', 'hybridops.talos mesh check', 'hybridops.talos provision',
                                 'hybridops.talos site']
    assert awx_jobs.survey_defaults(templates['hybridops.talos mesh check']) == {
        'talos_cluster_kubespan_samples': 1, 'talos_cluster_kubespan_report_only': 'false',
        'talos_cluster_kubespan_wait_timeout': 180}
    for template in templates.values():
        assert os.path.exists(os.path.join(awx_jobs.AWX, 'project', template['playbook']))


def read(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


@pytest.fixture(scope='module')
def awx(empty_lab, built_cluster, tmp_path_factory):
    """Run a job template: ``awx(name, bundle=True)``; the credentials hold the lab's tokens and the cluster's files."""
    _result, secrets_dir = built_cluster
    env = empty_lab.env
    with open(os.path.join(ROOT, 'examples', 'lab-vars.yml'), encoding='utf-8') as handle:
        group_vars = dict(yaml.safe_load(handle), **MACHINES)
    workdir = str(tmp_path_factory.mktemp('awx'))

    def run(name, bundle=True):
        talos = {'talosconfig': read(os.path.join(secrets_dir, 'talosconfig'))}
        if bundle:
            talos['secrets_bundle'] = read(os.path.join(secrets_dir, 'secrets.yaml'))
        credentials = {
            'Hetzner Cloud API token (hybridops.talos)': {'token': env['HCLOUD_TOKEN'], 'endpoint': env['HCLOUD_ENDPOINT']},
            'Proxmox VE API token (hybridops.talos)': {
                'url': env['PROXMOX_URL'], 'user': env['PROXMOX_USER'], 'token_id': env['PROXMOX_TOKEN_ID'],
                'token_secret': env['PROXMOX_TOKEN_SECRET'], 'ca_certificate': read(env['PROXMOX_CA_FILE'])},
            'Talos cluster (hybridops.talos)': talos,
            # The inventory source's credential: the read-only Hetzner token and the PVE auditor token.
            'Hybrid inventory (hybridops.talos)': {
                'hcloud_token': env['HCLOUD_TOKEN_READONLY'], 'hcloud_endpoint': env['HCLOUD_ENDPOINT'],
                'proxmox_url': env['PROXMOX_URL'], 'proxmox_user': env['PROXMOX_AUDITOR_USER'],
                'proxmox_token_id': env['PROXMOX_AUDITOR_TOKEN_ID'], 'proxmox_token_secret': env['PROXMOX_AUDITOR_TOKEN_SECRET'],
                'proxmox_ca_certificate': read(env['PROXMOX_CA_FILE'])},
        }
        return awx_jobs.run_job(name, credentials, group_vars, workdir)
    return run


@pytest.mark.parametrize('name', ['hybridops.talos site', 'hybridops.talos provision', 'hybridops.talos converge',
                                  'hybridops.talos mesh check'])
def test_each_job_template_runs_in_a_fresh_folder_and_changes_nothing(awx, name):
    # One run each: the job starts in a fresh folder with only what its credentials inject, on the cluster the laptop
    # path built, so changed=0 here is the second run of that build. (A second job in another fresh folder would get
    # the same inputs; it was dropped to keep make test in its budget.)
    result, _env = awx(name)
    assert result.rc == 0, awx_jobs.failures(result)
    assert awx_jobs.changed(result) == 0, awx_jobs.changed_tasks(result)
    # Not vacuous: the job did its work on the whole cluster.
    if name != 'hybridops.talos provision':
        mesh = awx_jobs.ok_results(result, 'Check that every KubeSpan link between the nodes is up')
        assert [r['counts']['pairs_up'] for r in mesh.values()] == [20], mesh
    if name in ('hybridops.talos site', 'hybridops.talos converge'):
        applied = awx_jobs.ok_results(result, 'Render, validate and apply the machine config')
        applied.update(awx_jobs.ok_results(result, 'Render, validate and apply the machine config, one control plane at a time'))
        assert sorted(applied) == ['home-cp-0', 'home-w-0', 'home-w-1', 'vps-0', 'vps-1'], sorted(applied)
    if name == 'hybridops.talos provision':
        assert awx_jobs.ok_results(result, 'Create the servers from the Talos image, each with its machine config as user data')


def test_a_job_with_only_the_talosconfig_reads_the_secrets_back_and_changes_nothing(awx):
    result, env = awx('hybridops.talos site', bundle=False)
    assert env['HYBRIDOPS_TALOS_SECRETS'] == '' and os.path.getsize(env['TALOSCONFIG']) > 0
    assert result.rc == 0, awx_jobs.failures(result)
    assert awx_jobs.changed(result) == 0, awx_jobs.changed_tasks(result)
    bundle = [e['event_data']['res'] for e in result.events if e.get('event') == 'runner_on_ok'
              and e['event_data'].get('task', '').endswith('Create or adopt the Talos secrets bundle (never overwritten)')]
    assert bundle and bundle[0]['source'] == 'cluster', bundle
