#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kubespan_verify
short_description: Check the whole KubeSpan mesh of a Talos cluster and say which link is broken and why
version_added: 0.1.0
description:
  - Reads, from every node in O(nodes) at the same time, its KubeSpan peer statuses (C(KubeSpanPeerStatuses), namespace
    C(kubespan)) and the cluster members its discovery knows (C(Members), namespace C(cluster)), and builds the matrix of
    what each node sees of each other node (N x (N-1) directions).
  - "Checks: the peers each node sees are the other checked nodes, no more, no less; every direction is C(up) by Talos'
    own state rules, re-applied on the controller's clock; every last handshake is younger than O(handshake_max_age);
    with O(samples=2), traffic counters grow between the two samples; the MTUs given fit together (KubeSpan = underlay - 80,
    Cilium VXLAN = KubeSpan - 50)."
  - Every broken link (a pair of nodes) gets one reason and a sentence an operator can act on, such as
    C(no_inbound_51820), C(one_way), C(endpoint_rotating), C(unknown_to_discovery), C(node_unreachable) or
    C(stale_handshake); see RV(links).
  - Fails with the list of broken links unless O(report_only=true). Optionally draws the matrix as an SVG picture.
  - Read-only; the least Talos role that works is C(os:reader). It never reads C(KubeSpanIdentities), which holds the
    WireGuard private key.
  - Ages are measured with the controller's clock against the nodes' timestamps, so the controller's clock must be in
    sync with the nodes (Talos needs synchronised time anyway).
author:
  - hybridops.talos maintainers (@hybridops)
requirements:
  - grpclib
  - protobuf
  - cryptography
  - PyYAML
extends_documentation_fragment:
  - hybridops.talos.talos_api
  - hybridops.talos.talos_api.wait
  - hybridops.talos.talos_api.action_group
options:
  nodes:
    description:
      - The nodes of the mesh, each asked on its Talos API (port 50000 unless V(host:port) is given), directly or
        through O(endpoints).
      - Either addresses (strings), or dicts with C(address), C(name) and optionally C(kubespan_mtu) (the KubeSpan MTU that node's
        machine config sets, checked against the others).
      - C(name) must be the node name Talos uses as the KubeSpan peer label (the Kubernetes node name). Without it, the name
        is the member of the node's own discovery view whose address is the one given.
      - A node that does not answer within O(timeout) is reported as unreachable; connecting gets at most 5 seconds and
        is tried twice, since a silent node is a finding here.
    type: list
    elements: raw
    required: true
  handshake_max_age:
    description:
      - Seconds the last WireGuard handshake of a direction may be old.
      - The default is Talos' own PeerDownInterval (275 s), after which Talos calls the peer down. A working link rekeys
        every two minutes, so a lower limit such as V(180) catches links that stopped a little earlier than Talos does.
    type: float
    default: 275
  samples:
    description:
      - V(2) reads every node twice, O(sample_interval) apart, and also checks that the traffic counters of every direction
        grow, that endpoints did not change in between, and tells one-way links more reliably.
    type: int
    choices: [1, 2]
    default: 1
  sample_interval:
    description:
      - Seconds between the two samples. Talos refreshes the counters every 30 seconds, so a shorter interval may see
        the same counters twice and report a healthy link as silent.
    type: float
    default: 35
  underlay_mtu:
    description: MTU of the network KubeSpan runs over (the smallest on the way between the sites).
    type: int
  expected_kubespan_mtu:
    description: KubeSpan MTU the cluster is configured with; checked against O(underlay_mtu) - 80.
    type: int
  cilium_mtu:
    description: MTU Cilium uses for VXLAN pods; checked against the KubeSpan MTU - 50.
    type: int
  wait:
    description:
      - Keep checking a mesh that is not healthy yet before judging it, for up to O(wait_timeout) seconds, for a mesh
        that was just built or a node that just rebooted. V(false) judges the first check.
      - A fresh mesh needs up to about 45 seconds, since Talos calls a peer C(up) only after a handshake and its next
        30-second refresh. Re-checks start after one second and come at most five seconds apart.
      - It stops early when waiting cannot help, when a node refuses the client certificate or is in maintenance mode,
        a node knows peers that are not listed, or the MTUs do not fit.
    type: bool
    default: true
  report_only:
    description: Report a broken mesh in the result without failing.
    type: bool
    default: false
  picture:
    description:
      - Path of an SVG file to draw the matrix into (row = the node reporting, column = the peer; green = up,
        red = down or failing, grey = unknown or no answer). Only C(.svg) is supported.
      - Rewritten only when the picture changes, which reports RV(ignore:changed=true). In check mode the change is
        reported and nothing is written.
    type: path
attributes:
  check_mode:
    support: full
    description: Reads the nodes and returns the same report; the O(picture) file is not written, and RV(ignore:changed)
      says whether it would be.
  diff_mode:
    support: none
    description: Nothing on the nodes changes.
  idempotent:
    support: full
    description: Changes nothing on the nodes; the picture holds no timestamps, so an unchanged mesh rewrites nothing.
"""

EXAMPLES = r"""
- name: Check the KubeSpan mesh and draw it
  hybridops.talos.kubespan_verify:
    nodes:
      - {name: vps-cp-1, address: 192.0.2.11}
      - {name: vps-cp-2, address: 192.0.2.12}
      - {name: home-cp-1, address: 10.10.0.10}
      - {name: home-w-1, address: 10.10.0.21}
      - {name: home-w-2, address: 10.10.0.22}
    talosconfig: ~/.local/share/hybridops-talos/hybrid/reader.talosconfig
    underlay_mtu: 1450
    expected_kubespan_mtu: 1370
    cilium_mtu: 1320
    picture: reports/kubespan.svg
  register: mesh

- name: Show the matrix
  ansible.builtin.debug:
    var: mesh.summary

- name: Report only, every node of the hybrid inventory, with the traffic check over two samples
  hybridops.talos.kubespan_verify:
    nodes: >-
      {{ (groups['talos_controlplane'] + groups['talos_worker'])
         | map('extract', hostvars, 'talos_node_ip') | list }}
    samples: 2
    report_only: true
  run_once: true
  register: mesh
"""

RETURN = r"""
healthy:
  description: Whether every check passed.
  returned: when the mesh was judged, also when the module fails because of it
  type: bool
summary:
  description: The report as text lines, a headline, the matrix as a table (C(up), C(DOWN), C(unkn), C(miss) for no peer,
    C(n/a) for no answer, C(up!) for up but failing a check), then one line per broken link.
  returned: when the mesh was judged, also when the module fails because of it
  type: list
  elements: str
  sample: ["KubeSpan mesh: 2 nodes, 2 of 2 directions up, 1 of 1 links healthy", "from \\ to | cp-1 | cp-2"]
nodes:
  description: Every node checked, in the order given.
  returned: when the mesh was judged, also when the module fails because of it
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
    address:
      description: Address asked.
      type: str
    reachable:
      description: Whether its Talos API answered.
      type: bool
    peers:
      description: Number of KubeSpan peers it has, when it answered.
      type: int
    members:
      description: Names of the cluster members its discovery knows, when it answered.
      type: list
      elements: str
    error:
      description: Why it did not answer, one sentence.
      type: str
    failure:
      description: The same as data (C(reason) such as C(unreachable) or C(permission_denied), C(node), C(call), C(message)).
      type: dict
matrix:
  description: For every node, the state it sees each other node in, as C(up), C(down), C(unknown), C(missing) (no KubeSpan
    peer for it) or C(unreachable) (the node did not answer).
  returned: when the mesh was judged, also when the module fails because of it
  type: dict
  sample: {"cp-1": {"cp-2": "up"}, "cp-2": {"cp-1": "up"}}
pairs:
  description: Every direction (N x (N-1)), with what the reporting node says about the peer.
  returned: when the mesh was judged, also when the module fails because of it
  type: list
  elements: dict
  contains:
    from:
      description: The node reporting.
      type: str
    to:
      description: The peer it reports on.
      type: str
    state:
      description: Talos' state when the controller's re-application of Talos' rules agrees, else the less healthy of the two.
      type: str
    reported_state:
      description: The state in the node's peer status.
      type: str
    derived_state:
      description: The state Talos' rules give at the moment the node answered.
      type: str
    ok:
      description: Whether this direction passes every check.
      type: bool
    failed:
      description: Checks it fails, among C(not_up), C(status_disagrees), C(handshake_too_old), C(no_traffic).
      type: list
      elements: str
    problems:
      description: The same, one sentence each.
      type: list
      elements: str
    known_member:
      description: Whether the peer is a member in the reporting node's discovery view.
      type: bool
    peer_id:
      description: The peer's WireGuard public key (public, the id of the peer status).
      type: str
    endpoint:
      description: Endpoint the node uses for the peer, C(ip:port).
      type: str
    last_used_endpoint:
      description: Endpoint last used, empty when none ever was.
      type: str
    last_handshake_age:
      description: Seconds since the last handshake, empty when there never was one.
      type: float
    last_endpoint_change_age:
      description: Seconds since the node last switched the peer's endpoint.
      type: float
    receive_bytes:
      description: Bytes received from the peer.
      type: int
    transmit_bytes:
      description: Bytes sent to the peer.
      type: int
    receive_delta:
      description: Bytes received between the two samples (O(samples=2) only).
      type: int
    transmit_delta:
      description: Bytes sent between the two samples (O(samples=2) only).
      type: int
    endpoint_changed:
      description: Whether the endpoint changed between the two samples (O(samples=2) only).
      type: bool
    previous_endpoint:
      description: The endpoint at the first sample (O(samples=2) only).
      type: str
links:
  description: Every pair of nodes (N x (N-1) / 2), with the reason and explanation when the link between them is broken.
  returned: when the mesh was judged, also when the module fails because of it
  type: list
  elements: dict
  contains:
    nodes:
      description: The two nodes.
      type: list
      elements: str
    ok:
      description: Whether both directions pass every check.
      type: bool
    states:
      description: The states of both directions (first node's view, then the second's).
      type: list
      elements: str
    reason:
      description:
        - "Why it is broken: C(node_unreachable), C(unknown_to_discovery), C(no_kubespan_peer), C(one_way), C(no_endpoint),
          C(no_inbound_51820), C(handshake_failing), C(connecting), C(endpoint_rotating), C(stale_handshake), C(peer_down),
          C(handshake_too_old), C(nat_mapping_lost) or C(traffic_stalled)."
      type: str
    message:
      description: The explanation, naming the nodes, the evidence and what to check.
      type: str
broken_links:
  description: The broken links as C(a <-> b (reason)).
  returned: when the mesh was judged, also when the module fails because of it
  type: list
  elements: str
extras:
  description: Peers or members a node knows that are not among O(nodes), one sentence each (they count as problems).
  returned: when the mesh was judged, also when the module fails because of it
  type: list
  elements: str
mtu:
  description: The MTU check.
  returned: when the mesh was judged, also when the module fails because of it
  type: dict
  contains:
    underlay:
      description: O(underlay_mtu).
      type: int
    kubespan:
      description: The KubeSpan MTU checked, O(expected_kubespan_mtu) or else O(underlay_mtu) - 80.
      type: int
    expected_kubespan:
      description: O(underlay_mtu) - 80.
      type: int
    cilium:
      description: O(cilium_mtu).
      type: int
    expected_cilium:
      description: The KubeSpan MTU - 50.
      type: int
    ok:
      description: Whether the MTUs fit together.
      type: bool
    problems:
      description: What does not fit, one sentence each.
      type: list
      elements: str
problems:
  description: Every problem found, one sentence each.
  returned: when the mesh was judged, also when the module fails because of it
  type: list
  elements: str
counts:
  description: Numbers of nodes, directions (C(pairs)), directions up and passing, links and healthy links.
  returned: when the mesh was judged, also when the module fails because of it
  type: dict
  sample: {"nodes": 5, "pairs": 20, "pairs_up": 20, "pairs_ok": 20, "links": 10, "links_ok": 10}
picture:
  description: Path of the SVG picture, when O(picture) was given (also in check mode, where it is not written).
  returned: when O(picture) is set
  type: str
failure:
  description: The structured cause of a failure (C(reason), C(node), C(call), C(status), C(message), details).
  returned: failed
  type: dict
duration:
  description: Seconds the check took, sampling and waiting included.
  returned: when the mesh was judged, also when the module fails because of it
  type: float
checks:
  description: How many times the mesh was checked (more than one only with O(wait_timeout)).
  returned: when the mesh was judged, also when the module fails because of it
  type: int
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError, run
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.collect import observe_all
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.matrix import resolve_names
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.render import summary_lines, svg
from ansible_collections.hybridops.talos.plugins.module_utils._kubespan.verify import (
    MeshInputError, failure_message, verify, worth_waiting)
from ansible_collections.hybridops.talos.plugins.module_utils._requires import TALOS_API, requires
from ansible_collections.hybridops.talos.plugins.module_utils._retry import RetryPolicy, WaitTimeout, wait_for
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.client import split_endpoint
from ansible_collections.hybridops.talos.plugins.module_utils._talos.api.errors import TalosApiError
from ansible_collections.hybridops.talos.plugins.module_utils._talos.node import CONNECTION_ARGS, WAIT_ARGS, Connection

CONNECT_TIMEOUT = 5.0
# One quick retry: a node that does not answer is a finding here, not something to wait out.
RETRY = RetryPolicy(attempts=2, first=0.5, cap=1.0)
# Re-checks of a mesh that is not healthy yet: soon after the first, then every 5 s (Talos refreshes every 30 s).
RECHECK_FIRST = 1.0
RECHECK_CAP = 5.0


def bad_input(why, option='nodes'):
    return ModuleError('bad_input', why, option=option)


def node_entries(raw_nodes):
    """The O(nodes) entries as dicts with name, address and kubespan_mtu; bad entries raise ModuleError."""
    entries = []
    for index, raw in enumerate(raw_nodes):
        if isinstance(raw, str):
            raw = dict(address=raw)
        if not isinstance(raw, dict) or not raw.get('address'):
            raise bad_input('nodes[%d] must be an address or a dict with an address, got %r' % (index, raw))
        unknown = set(raw) - {'name', 'address', 'kubespan_mtu'}
        if unknown:
            raise bad_input('nodes[%d] has unknown keys %s; use name, address and kubespan_mtu' % (index, ', '.join(sorted(unknown))))
        mtu = raw.get('kubespan_mtu')
        if mtu is not None:
            try:
                mtu = int(mtu)
            except (TypeError, ValueError):
                raise bad_input('nodes[%d].kubespan_mtu must be a number, got %r' % (index, mtu)) from None
        try:
            split_endpoint(raw['address'])
        except TalosApiError as exc:
            raise bad_input('nodes[%d]: %s' % (index, exc.why)) from None
        entries.append(dict(name=str(raw['name']) if raw.get('name') else None, address=str(raw['address']), kubespan_mtu=mtu))
    addresses = [entry['address'] for entry in entries]
    twice = sorted({address for address in addresses if addresses.count(address) > 1})
    if twice:
        raise bad_input('nodes lists %s more than once' % ', '.join(twice))
    if len(entries) < 2:
        raise bad_input('nodes must list at least two nodes to make a mesh')
    return entries


def check_options(params):
    """Refuse option values that make no sense, before any node is asked."""
    if params['picture'] and not params['picture'].lower().endswith('.svg'):
        raise bad_input('picture must be an .svg path: only SVG pictures are drawn, got %s' % params['picture'], 'picture')
    if params['handshake_max_age'] <= 0 or params['sample_interval'] < 0 or params['timeout'] <= 0 or params['wait_timeout'] < 0:
        raise bad_input('handshake_max_age and timeout must be positive, and sample_interval and wait_timeout not negative',
                        'handshake_max_age')


def picture_changes(path, content):
    """Whether writing ``content`` to ``path`` would change the file."""
    if not os.path.exists(path):
        return True
    with open(path, 'rb') as handle:
        return handle.read() != to_bytes(content)


def write_picture(module, path, content):
    """Write ``content`` to ``path`` atomically (the caller knows it changes)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix='.kubespan-', suffix='.svg')
        with os.fdopen(handle, 'wb') as stream:
            stream.write(to_bytes(content))
        os.chmod(temporary, 0o644)
    except OSError as exc:
        raise ModuleError('unwritable', 'cannot write the picture %s: %s' % (path, exc.strerror or exc), path=path) from None
    module.atomic_move(temporary, os.path.abspath(path))


def verify_mesh(module):
    params = module.params
    nodes = node_entries(params['nodes'])
    check_options(params)
    with Connection(params, retry=RETRY, connect_timeout=CONNECT_TIMEOUT) as connection:
        # Made here, not in the reading threads: one client per node, kept for every reading of this run.
        clients = {node['address']: connection.client(node['address']) for node in nodes}
        return judge(module, nodes, lambda node: clients[node['address']])


def judge(module, nodes, make_client):
    params = module.params

    def check():
        """One judgement of the mesh: (report, observations); the report is None when no node answered."""
        previous = None
        if params['samples'] == 2:
            previous = observe_all(nodes, make_client)
            time.sleep(params['sample_interval'])
        observations = observe_all(nodes, make_client)
        if not any(observation['reachable'] for observation in observations):
            return None, observations
        resolve_names(observations)
        mtu = dict(underlay=params['underlay_mtu'], kubespan=params['expected_kubespan_mtu'], cilium=params['cilium_mtu'],
                   per_node={o['name']: node['kubespan_mtu'] for o, node in zip(observations, nodes)})
        try:
            return verify(observations, previous, params['handshake_max_age'], mtu=mtu), observations
        except MeshInputError as exc:
            raise bad_input(str(exc)) from None

    checks = []

    def probe():
        """wait_for's probe: done once the mesh is healthy or waiting cannot help any more."""
        outcome = check()
        checks.append(outcome)
        return not worth_waiting(*outcome), outcome

    started = time.monotonic()
    try:
        (report, observations), _waited = wait_for('a healthy KubeSpan mesh', probe,
                                                   params['wait_timeout'] if params['wait'] else 0,
                                                   first=RECHECK_FIRST, cap=RECHECK_CAP)
    except WaitTimeout as exc:
        report, observations = exc.last
    if report is None:
        first = observations[0]
        # The first node's failure, as the reason nobody answered (all usually fail alike: a refused certificate).
        failure = dict(first['failure'])
        raise ModuleError(failure.pop('reason'), failure.pop('message'), node=failure.pop('node'), call=failure.pop('call'),
                          status=failure.pop('status', None),
                          sentence='No node answered, so the mesh cannot be judged; %s' % first['error'],
                          result=dict(nodes=[dict(address=o['address'], error=o['error']) for o in observations],
                                      checks=len(checks)), **failure)
    result = dict(changed=False, summary=summary_lines(report), **report)
    if params['picture']:
        result['picture'] = params['picture']
        content = svg(report)
        result['changed'] = picture_changes(params['picture'], content)
        if result['changed'] and not module.check_mode:
            write_picture(module, params['picture'], content)
    result['duration'] = round(time.monotonic() - started, 3)
    result['checks'] = len(checks)
    if not report['healthy'] and not params['report_only']:
        raise ModuleError('mesh_unhealthy', failure_message(report), call='List', result=result)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nodes=dict(type='list', elements='raw', required=True),
            handshake_max_age=dict(type='float', default=275.0),
            samples=dict(type='int', default=1, choices=[1, 2]),
            sample_interval=dict(type='float', default=35.0),
            underlay_mtu=dict(type='int'),
            expected_kubespan_mtu=dict(type='int'),
            cilium_mtu=dict(type='int'),
            report_only=dict(type='bool', default=False),
            picture=dict(type='path'),
            **dict(CONNECTION_ARGS, **WAIT_ARGS)
        ),
        supports_check_mode=True,
    )
    requires(module, *TALOS_API)
    run(module, verify_mesh)


if __name__ == '__main__':
    main()
