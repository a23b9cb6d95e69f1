"""Fixtures for the lab's own tests: clients for both stand-ins, and the OpenAPI conformance guard.

Every test in this folder runs with the Hetzner stand-in's OpenAPI check switched on, and fails
if any request or response of the test departed from the published description. The description is
an oracle in ../shared: without it the tests run without that guard, and test_hcloud_openapi.py,
which tests the check itself, skips and names the missing folder.
"""
import threading
import uuid

import pytest
from hcloud import Client

from lab_fixtures import hcloud_control, lab_env, proxmox  # noqa: F401  pylint: disable=unused-import
from lab.hcloud import openapi_missing
from lab.hcloud.seed import seed
from lab.hcloud.service import Lab, make_server
from lab.control import HcloudControl


@pytest.fixture(scope='session')
def conformance(hcloud_control):  # pylint: disable=redefined-outer-name
    if openapi_missing():
        yield None
        return
    was_on = hcloud_control.validation()
    hcloud_control.validation(True)
    yield hcloud_control
    if not was_on:
        hcloud_control.validation(False)


@pytest.fixture(autouse=True)
def no_violations(request):
    """After each lab test: the stand-in saw no request or response outside the OpenAPI description."""
    if 'lab_env' not in request.fixturenames:
        yield
        return
    control = request.getfixturevalue('conformance')
    yield
    if control is None:
        return
    found = control.violations(clear=True)
    assert not found, 'OpenAPI violations:\n' + '\n'.join(
        '%(method)s %(path)s?%(query)s -> %(status)s [%(kind)s] %(error)s' % v for v in found)


@pytest.fixture
def agent():
    """A User-Agent marker unique to the test, to scope faults and counters to its own requests."""
    return 'labtest-%s' % uuid.uuid4().hex[:10]


def _client(env, token, agent_name):
    # poll_interval: actions run 0.5 s in the lab; the default 1 s poll would only slow the tests.
    return Client(token=env[token], api_endpoint=env['HCLOUD_ENDPOINT'], poll_interval=0.1,
                  application_name=agent_name)


@pytest.fixture
def hcloud_rw(lab_env, agent):  # pylint: disable=redefined-outer-name
    return _client(lab_env, 'HCLOUD_TOKEN', agent)


@pytest.fixture
def hcloud_ro(lab_env, agent):  # pylint: disable=redefined-outer-name
    return _client(lab_env, 'HCLOUD_TOKEN_READONLY', agent)


@pytest.fixture
def pve_root(lab_env):  # pylint: disable=redefined-outer-name
    return proxmox(lab_env, 'PROXMOX_USER', 'PROXMOX_TOKEN_ID', 'PROXMOX_TOKEN_SECRET')


@pytest.fixture
def pve_auditor(lab_env):  # pylint: disable=redefined-outer-name
    return proxmox(lab_env, 'PROXMOX_AUDITOR_USER', 'PROXMOX_AUDITOR_TOKEN_ID', 'PROXMOX_AUDITOR_TOKEN_SECRET')


class PrivateHcloud(object):
    """A Hetzner stand-in of the test's own, on a free loopback port, for settings that would disturb others."""

    def __init__(self, **options):
        self.lab = Lab(tokens={'rw-token': 'rw', 'ro-token': 'ro'}, **options)
        seed(self.lab.store)
        self.server = make_server(self.lab, '127.0.0.1', 0)
        host, port = self.server.server_address[:2]
        self.endpoint = 'http://%s:%d/v1' % (host, port)
        self.control = HcloudControl('http://%s:%d/__lab__' % (host, port))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def client(self, token='rw-token', **options):
        return Client(token=token, api_endpoint=self.endpoint, poll_interval=0.05, **options)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def private_hcloud():
    made = []

    def make(**options):
        made.append(PrivateHcloud(**options))
        return made[-1]
    yield make
    for instance in made:
        instance.close()
