# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the Talos API client tests: a cluster PKI made at test time and fake nodes serving it."""

from __future__ import annotations

import collections

import pytest

from . import certs
from . import fake_node

Pki = collections.namedtuple('Pki', 'os_ca server admin reader other_ca maintenance_ca maintenance_server')


@pytest.fixture(scope='session')
def pki():
    os_ca = certs.make_ca('talos')
    maintenance_ca = certs.make_ca(None, common_name='maintenance-root')
    other_ca = certs.make_ca('talos')
    return Pki(
        os_ca=os_ca,
        server=certs.issue(os_ca, common_name='cp-1.lab', server_ips=['127.0.0.1']),
        admin=certs.issue(os_ca, roles=['os:admin']),
        reader=certs.issue(os_ca, roles=['os:reader']),
        other_ca=other_ca,
        maintenance_ca=maintenance_ca,
        maintenance_server=certs.issue(maintenance_ca, common_name='maintenance-service.talos.dev', server_ips=['127.0.0.1']),
    )


@pytest.fixture
def configured_node(pki):
    """A configured node: OS CA server certificate, client certificates required."""
    state = fake_node.NodeState()
    with fake_node.FakeNode(state, fake_node.server_context(pki.server, client_ca=pki.os_ca)) as node:
        yield node


@pytest.fixture
def maintenance_node(pki):
    """A node without a machine config: maintenance CA certificate, no client certificate asked for."""
    state = fake_node.NodeState(maintenance=True)
    with fake_node.FakeNode(state, fake_node.server_context(pki.maintenance_server)) as node:
        yield node


@pytest.fixture
def write_talosconfig(tmp_path):
    def write(ca, client, name='talosconfig'):
        path = tmp_path / name
        path.write_text(certs.talosconfig_text(ca, client))
        path.chmod(0o600)
        return str(path)
    return write
