"""The Hetzner stand-in driven by Debian's `hcloud` CLI (Go), pointed at it with HCLOUD_ENDPOINT."""
import json
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.lab

HCLOUD = shutil.which('hcloud')


@pytest.fixture
def cli(lab_env, tmp_path, agent):
    if HCLOUD is None:
        pytest.skip('hcloud-cli is not installed (apt-get install hcloud-cli)')

    def run(*args, token='HCLOUD_TOKEN', check=True):
        env = dict(os.environ, HOME=str(tmp_path), HCLOUD_ENDPOINT=lab_env['HCLOUD_ENDPOINT'],
                   HCLOUD_TOKEN=lab_env[token], HCLOUD_POLL_INTERVAL='100ms')
        env.pop('HCLOUD_CONTEXT', None)
        proc = subprocess.run([HCLOUD] + list(args), env=env, capture_output=True, text=True, timeout=60, check=False)
        if check:
            assert proc.returncode == 0, '%s: %s' % (' '.join(args), proc.stderr)
        return proc
    return run


def test_server_list_json_shows_the_seed(cli):
    servers = json.loads(cli('server', 'list', '-o', 'json', '-l', 'talos-role=controlplane').stdout)
    by_name = dict((s['name'], s) for s in servers)
    assert {'vps-0', 'vps-1'} <= set(by_name)
    assert by_name['vps-0']['labels']['cluster'] == 'lab'
    assert by_name['vps-0']['server_type']['name'] == 'cpx32'
    assert by_name['vps-0']['private_net'][0]['ip'].startswith('10.0.')


def test_server_create_describe_delete(cli, agent):
    created = cli('server', 'create', '--name', agent, '--type', 'cx23', '--image', 'debian-12',
                  '--location', 'fsn1', '--label', 'talos-role=worker')
    assert 'Server %s' % agent in created.stdout or 'created' in created.stdout
    described = json.loads(cli('server', 'describe', agent, '-o', 'json').stdout)
    assert described['status'] == 'running' and described['labels'] == {'talos-role': 'worker'}
    assert described['datacenter']['location']['name'] == 'fsn1'
    cli('server', 'delete', agent)
    assert cli('server', 'describe', agent, check=False).returncode != 0


def test_firewall_describe_shows_talos_rules(cli):
    firewall = json.loads(cli('firewall', 'describe', 'lab-talos', '-o', 'json').stdout)
    ports = sorted((r['protocol'], r.get('port')) for r in firewall['rules'])
    assert ports == [('icmp', None), ('tcp', '50000'), ('tcp', '50001'), ('tcp', '6443'), ('udp', '51820')]
    assert firewall['applied_to'][0]['label_selector']['selector'] == 'cluster=lab'


def test_catalog_lists(cli):
    types = cli('server-type', 'list', '-o', 'columns=name,cores').stdout
    assert 'cpx32' in types and 'cx23' in types
    assert 'fsn1' in cli('location', 'list').stdout
    assert 'debian-12' in cli('image', 'list', '--type', 'system').stdout


def test_read_only_token_is_refused_by_name(cli, agent):
    proc = cli('server', 'create', '--name', agent, '--type', 'cx23', '--image', 'debian-12',
               token='HCLOUD_TOKEN_READONLY', check=False)
    assert proc.returncode != 0
    assert 'token_readonly' in proc.stderr or 'only allowed to perform GET' in proc.stderr
