# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd quorum arithmetic and failure-mode analysis of a Talos cluster topology.

Pure logic, no Ansible imports: the module, the preflight role and the unit tests share it.
"""

from __future__ import annotations

from ._errors import ModuleError

ROLES = ('controlplane', 'worker')
MAX_SAFE_MEMBERS = 7


class TopologyError(ModuleError):
    """Bad input or an unsafe topology, with a message meant for an operator (the collection's one failure shape)."""

    def __init__(self, msg, reason='bad_input'):
        super().__init__(reason, msg)


def quorum(members):
    """Votes etcd needs to make progress: a strict majority of the members."""
    return members // 2 + 1


def tolerated_failures(members):
    """Members that may be lost while a quorum remains (0 for an empty cluster)."""
    if members <= 0:
        return 0
    return members - quorum(members)


def normalise_nodes(nodes):
    """Check the node list and return it as plain dicts; raise TopologyError on the first problem."""
    if not isinstance(nodes, list) or not nodes:
        raise TopologyError('nodes is empty: give at least one node with name, role and site.')
    seen = set()
    result = []
    for index, node in enumerate(nodes):
        where = 'nodes[%d]' % index
        if not isinstance(node, dict):
            raise TopologyError('%s is not a mapping with name, role and site.' % where)
        name = node.get('name')
        if not isinstance(name, str) or not name.strip():
            raise TopologyError('%s has no name.' % where)
        where = 'node %s' % name
        role = node.get('role')
        if role in (None, ''):
            raise TopologyError('%s has no role: use one of %s.' % (where, ', '.join(ROLES)))
        if role not in ROLES:
            raise TopologyError('%s has unknown role %r: use one of %s.' % (where, role, ', '.join(ROLES)))
        site = node.get('site')
        if not isinstance(site, str) or not site.strip():
            raise TopologyError('%s has no site.' % where)
        if name in seen:
            raise TopologyError('node name %s appears more than once.' % name)
        seen.add(name)
        result.append({'name': name, 'role': role, 'site': site})
    return result


def unsafe_reason(members):
    """Why an etcd member count is unsafe, in numbers; None when it is safe."""
    if members == 0:
        return ('there are 0 control planes: etcd and the Kubernetes API have no member to run on.')
    if members > MAX_SAFE_MEMBERS:
        return ('%d control planes is more than %d: every etcd write waits for %d members, '
                'which slows the cluster without adding safety etcd recommends.'
                % (members, MAX_SAFE_MEMBERS, quorum(members)))
    if members % 2 == 0:
        return ('%d control planes is an even number: quorum is %d, so it tolerates %d failure(s), '
                'no more than %d members would, while adding one more member that can fail.'
                % (members, quorum(members), tolerated_failures(members), members - 1))
    return None


def _scenario(kind, label, down, nodes, members, ingress_sites):
    down_set = set(down)
    up = [n for n in nodes if n['name'] not in down_set]
    members_up = sum(1 for n in up if n['role'] == 'controlplane')
    has_quorum = members > 0 and members_up >= quorum(members)
    # Without ingress_sites every site may serve ingress: it is up while any node is.
    ingress_up = any(n['site'] in ingress_sites for n in up) if ingress_sites else bool(up)
    notes = []
    if has_quorum:
        notes.append('etcd keeps quorum with %d of %d members (needs %d).' % (members_up, members, quorum(members)))
    else:
        notes.append('etcd loses quorum: %d of %d members up, %d needed; the Kubernetes API stops '
                     'accepting writes until members return or etcd is recovered from a snapshot.'
                     % (members_up, members, quorum(members)))
    if ingress_sites and not ingress_up:
        notes.append('no node is up at an ingress site (%s): public ingress is down.' % ', '.join(sorted(ingress_sites)))
    workers_down = [n['name'] for n in nodes if n['name'] in down_set and n['role'] == 'worker']
    if workers_down:
        notes.append('workloads on %s must be rescheduled.' % ', '.join(workers_down))
    return {
        'scenario': label,
        'kind': kind,
        'nodes_down': sorted(down),
        'etcd_members_up': members_up,
        'etcd_quorum': has_quorum,
        # The API server runs on every control plane but serves only while etcd has quorum.
        'kubernetes_api': has_quorum and members_up > 0,
        'ingress': ingress_up,
        'notes': ' '.join(notes),
    }


def analyse(nodes, ingress_sites=None, allow_unsafe=False):
    """Return the failure-mode table of a topology.

    Raises TopologyError for bad input, and for an unsafe etcd member count unless allow_unsafe;
    with allow_unsafe the reason comes back under ``warnings``.
    """
    nodes = normalise_nodes(nodes)
    ingress_sites = list(ingress_sites or [])
    sites = sorted({n['site'] for n in nodes})
    unknown = [s for s in ingress_sites if s not in sites]
    if unknown:
        raise TopologyError('ingress site %s has no node; known sites: %s.' % (', '.join(unknown), ', '.join(sites)))
    members = sum(1 for n in nodes if n['role'] == 'controlplane')
    warnings = []
    reason = unsafe_reason(members)
    if reason:
        if not allow_unsafe:
            raise TopologyError('Unsafe topology: %s Set allow_unsafe to accept the risk.' % reason, reason='unsafe_topology')
        warnings.append('Unsafe topology accepted: %s' % reason)

    rows = [_scenario('node', 'node %s down' % n['name'], [n['name']], nodes, members, ingress_sites)
            for n in nodes]
    for site in sites:
        down = [n['name'] for n in nodes if n['site'] == site]
        rows.append(_scenario('site', 'site %s down' % site, down, nodes, members, ingress_sites))
    return {
        'etcd_members': members,
        'quorum': quorum(members) if members else 0,
        'tolerated_failures': tolerated_failures(members),
        'sites': sites,
        'failure_modes': rows,
        'warnings': warnings,
    }


def render_table(result):
    """A fixed-width text table of the failure modes, one line per scenario."""
    header = ('scenario', 'etcd', 'quorum', 'api', 'ingress')
    lines = []
    members = result['etcd_members']
    for row in result['failure_modes']:
        lines.append((row['scenario'], '%d/%d' % (row['etcd_members_up'], members),
                      'kept' if row['etcd_quorum'] else 'LOST',
                      'up' if row['kubernetes_api'] else 'DOWN',
                      'up' if row['ingress'] else 'DOWN'))
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    fmt = '  '.join('%%-%ds' % w for w in widths)
    out = [fmt % header, fmt % tuple('-' * w for w in widths)]
    out.extend(fmt % line for line in lines)
    return [line.rstrip() for line in out]
