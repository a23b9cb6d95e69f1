"""Fixtures for the ``hybrid`` inventory plugin's lab tests: the lab (``lab_fixtures``), a source writer
that runs the real ``ansible-inventory``, private Hetzner stand-ins for faults and counters, a counting
proxy in front of the Proxmox stand-in, and throw-away Proxmox VMs for the odd-host cases.
"""
import importlib.util
import os
import subprocess
import sys
import threading
import uuid

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from counting_proxy import CountingProxy  # noqa: E402  pylint: disable=wrong-import-position
from inventory_helpers import CREDENTIAL_VARS, Listing  # noqa: E402  pylint: disable=wrong-import-position
from lab_fixtures import hcloud_control, lab_env  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def _load_ansible_env():
    """``ansible_env()`` of tests/integration/conftest.py (a conftest is not importable by package name)."""
    path = os.path.join(ROOT, 'tests', 'integration', 'conftest.py')
    spec = importlib.util.spec_from_file_location('_integration_conftest', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ansible_env


ansible_env = _load_ansible_env()


@pytest.fixture
def private_hcloud():
    """A Hetzner stand-in of the test's own (lab seed, fresh counters) on a free loopback port.

    Fault injection and request counting on the shared stand-in would trip over other tests running
    at the same time (pytest-xdist, other suites); a private one counts only this test's requests.
    """
    from lab.control import HcloudControl
    from lab.hcloud.seed import seed
    from lab.hcloud.service import Lab, make_server
    lab = Lab(tokens={'private-rw-token': 'rw', 'private-ro-token': 'ro'})
    seed(lab.store)
    server = make_server(lab, '127.0.0.1', 0)
    host, port = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {'env': {'HCLOUD_ENDPOINT': 'http://%s:%d/v1' % (host, port), 'HCLOUD_TOKEN': 'private-ro-token'},
           'control': HcloudControl('http://%s:%d/__lab__' % (host, port))}
    server.shutdown()
    server.server_close()


@pytest.fixture
def pve_proxy(lab_env):
    with CountingProxy.for_lab(lab_env) as proxy:
        yield proxy


@pytest.fixture
def list_inventory(tmp_path):
    """``run(source_dict_or_path, env={...}, args=())``: the real ``ansible-inventory --list`` on a source.

    An unparsed source fails the run, unless ``unparsed_is_failed=False`` keeps Ansible's default (a warning).
    """
    def run(source, env=None, args=(), name='test.hybrid.yml', unparsed_is_failed=True):
        if isinstance(source, dict):
            path = tmp_path / name
            path.write_text(yaml.safe_dump(source, sort_keys=False))
            source = str(path)
        base = ansible_env({'ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED': str(unparsed_is_failed).lower(),
                            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'true'})
        for key in CREDENTIAL_VARS:
            base.pop(key, None)
        base.update(env or {})
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-inventory'), '-i', source, '--list']
        command += list(args)
        proc = subprocess.run(command, cwd=str(tmp_path), env=base, capture_output=True, text=True, timeout=300,
                              check=False)
        return Listing(proc)
    return run


@pytest.fixture
def scratch_vms(lab_env):
    """``create(name, tags, **config)`` makes a real VM in the Proxmox stand-in; all are removed afterwards."""
    from proxmoxer import ProxmoxAPI
    host = lab_env['PROXMOX_URL'].split('://', 1)[1]
    api = ProxmoxAPI(host, user=lab_env['PROXMOX_USER'], token_name=lab_env['PROXMOX_TOKEN_ID'],
                     token_value=lab_env['PROXMOX_TOKEN_SECRET'], verify_ssl=lab_env['PROXMOX_CA_FILE'])
    created = []

    def create(name, tags, node='pve1', start=False, **config):
        vmid = int(api.cluster.nextid.get())
        api.nodes(node).qemu.post(vmid=vmid, name=name, tags=tags, memory=512, **config)
        created.append((node, vmid))
        if start:
            api.nodes(node).qemu(vmid).status.start.post()
        return vmid

    create.tag = 'invtest-%s' % uuid.uuid4().hex[:8]
    yield create
    for node, vmid in created:
        if api.nodes(node).qemu(vmid).status.current.get()['status'] == 'running':
            api.nodes(node).qemu(vmid).status.stop.post()
        api.nodes(node).qemu(vmid).delete()
