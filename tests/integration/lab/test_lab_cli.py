"""The lab CLI: the env contract, file modes, a second `up`, `status`, `down`, and the root check."""
import hashlib
import os
import socket
import stat
import sys
import urllib.error
import urllib.request

import pytest
import yaml
from hcloud import Client

from lab_fixtures import lab_command, proxmox, run_unprivileged
from lab import state

pytestmark = pytest.mark.lab

CONTRACT = {'HCLOUD_ENDPOINT', 'HCLOUD_TOKEN', 'HCLOUD_TOKEN_READONLY', 'PROXMOX_URL', 'PROXMOX_USER',
            'PROXMOX_TOKEN_ID', 'PROXMOX_TOKEN_SECRET', 'PROXMOX_AUDITOR_USER', 'PROXMOX_AUDITOR_TOKEN_ID',
            'PROXMOX_AUDITOR_TOKEN_SECRET', 'PROXMOX_CA_FILE', 'LAB_HCLOUD_CONTROL'}


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def test_env_file_holds_the_whole_contract(lab_env):
    assert CONTRACT <= set(lab_env)
    assert lab_env['HCLOUD_ENDPOINT'].startswith('http://127.') and lab_env['HCLOUD_ENDPOINT'].endswith('/v1')
    assert lab_env['PROXMOX_URL'].startswith('https://127.')
    assert lab_env['PROXMOX_USER'] == 'root@pam'
    assert lab_env['HCLOUD_TOKEN'] != lab_env['HCLOUD_TOKEN_READONLY']
    assert os.path.isfile(lab_env['PROXMOX_CA_FILE'])


def test_secret_files_are_private(lab_env):
    assert stat.S_IMODE(os.stat(state.STATE_DIR).st_mode) == 0o700
    for name in ('env', 'hybrid.yml', 'hcloud.json', 'pve.json', 'pve.key', 'ca.key'):
        assert stat.S_IMODE(os.stat(state.path(name)).st_mode) == 0o600, name


def test_hybrid_source_uses_the_read_only_credentials(lab_env):
    with open(state.path('hybrid.yml'), encoding='utf-8') as handle:
        source = yaml.safe_load(handle)
    assert source['plugin'] == 'hybridops.talos.hybrid'
    assert source['hcloud_endpoint'] == lab_env['HCLOUD_ENDPOINT']
    assert source['hcloud_token'] == lab_env['HCLOUD_TOKEN_READONLY']
    assert source['proxmox_user'] == lab_env['PROXMOX_AUDITOR_USER']
    assert source['proxmox_token_secret'] == lab_env['PROXMOX_AUDITOR_TOKEN_SECRET']
    assert source['proxmox_ca_file'] == lab_env['PROXMOX_CA_FILE']


def test_second_up_keeps_the_running_lab(lab_env):
    pids = [open(state.path(n + '.pid'), encoding='ascii').read() for n in ('hcloud', 'pve')]
    proc = lab_command('up')
    assert proc.returncode == 0, proc.stderr
    assert 'already running' in proc.stdout
    assert [open(state.path(n + '.pid'), encoding='ascii').read() for n in ('hcloud', 'pve')] == pids
    assert state.read_env() == lab_env


def test_status_lists_both_stand_ins(lab_env):
    proc = lab_command('status')
    assert proc.returncode == 0
    assert 'hcloud  running' in proc.stdout and 'pve     running' in proc.stdout
    assert 'files   running' in proc.stdout


def test_the_file_server_serves_flux_s_manifest_with_the_sha256_in_env(lab_env):
    url = '%s/v%s/install.yaml' % (lab_env['LAB_FLUX_RELEASES_URL'], lab_env['LAB_FLUX_VERSION'])
    assert url.startswith('http://127.') and url.endswith('/fluxcd/flux2/releases/download/v2.7.5/install.yaml')
    with urllib.request.urlopen(url, timeout=10) as response:
        data = response.read()
    assert hashlib.sha256(data).hexdigest() == lab_env['LAB_FLUX_INSTALL_SHA256']
    assert data.startswith(b'---\n# Flux Version: v2.7.5\n')
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(url.replace('v2.7.5', 'v2.8.0'), timeout=10)  # pylint: disable=consider-using-with
    assert missing.value.code == 404


def test_up_refuses_a_busy_port(lab_env, tmp_path):
    busy = int(lab_env['HCLOUD_ENDPOINT'].rsplit(':', 1)[1].split('/')[0])
    env = dict(os.environ, LAB_STATE_DIR=str(tmp_path / 'lab'))
    proc = lab_command('up', '--hcloud-port', str(busy), '--pve-port', str(_free_port()), env=env)
    assert proc.returncode == 1
    assert 'port %d on 127.0.0.1 is already in use' % busy in proc.stderr


def test_a_second_lab_comes_up_seeded_and_goes_down_clean(tmp_path):
    env = dict(os.environ, LAB_STATE_DIR=str(tmp_path / 'lab'))
    proc = lab_command('up', '--hcloud-port', str(_free_port()), '--pve-port', str(_free_port()),
                       '--hcloud-servers', '3', '--pve-vms', '4', env=env)
    try:
        assert proc.returncode == 0, proc.stderr
        assert '(5 servers)' in proc.stdout and '(7 VMs)' in proc.stdout
        pids = [int(open(tmp_path / 'lab' / (n + '.pid'), encoding='ascii').read()) for n in ('hcloud', 'pve')]
        assert all(os.path.exists('/proc/%d' % pid) for pid in pids)
        env2 = state.read_env(str(tmp_path / 'lab' / 'env'))
        servers = Client(token=env2['HCLOUD_TOKEN_READONLY'], api_endpoint=env2['HCLOUD_ENDPOINT']).servers.get_all(
            label_selector='talos-role=worker,cluster=lab')
        assert sorted(s.name for s in servers) == ['lab-hc-001', 'lab-hc-002', 'lab-hc-003']
        assert all(s.private_net and s.public_net.ipv4 for s in servers)
        vms = [g for g in proxmox(env2, 'PROXMOX_AUDITOR_USER', 'PROXMOX_AUDITOR_TOKEN_ID', 'PROXMOX_AUDITOR_TOKEN_SECRET')
               .cluster.resources.get(type='vm') if g['name'].startswith('lab-pve-')]
        assert len(vms) == 4 and {g['tags'] for g in vms} == {'talos-worker'} and {g['node'] for g in vms} == {'pve1', 'pve2'}
    finally:
        down = lab_command('down', env=env)
    assert down.returncode == 0, down.stderr
    assert not (tmp_path / 'lab').exists()
    assert not any(os.path.exists('/proc/%d' % pid) and
                   open('/proc/%d/cmdline' % pid, 'rb').read().find(b'lab.') >= 0 for pid in pids)


def test_lab_says_it_needs_root(tmp_path):
    proc = run_unprivileged([sys.executable, '-m', 'lab', 'up'], dict(os.environ, LAB_STATE_DIR=str(tmp_path / 'lab')))
    assert proc.returncode == 1, proc.stderr
    assert 'the lab needs root' in proc.stderr
    assert not (tmp_path / 'lab').exists()
