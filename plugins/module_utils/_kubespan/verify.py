# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From the nodes' observations to the verdict: matrix, links with their diagnosis, MTU, problems."""

from __future__ import annotations

from .diagnose import diagnose_link
from .matrix import LEAVING, build_matrix, resolve_names
from .mtu import check_mtu
from .states import PEER_DOWN_INTERVAL, UP


class MeshInputError(ValueError):
    """The nodes to check do not make a mesh (two entries are the same node)."""


def _node_summary(observation):
    result = dict(name=observation['name'], address=observation['address'], reachable=bool(observation.get('reachable')))
    if result['reachable']:
        result.update(peers=len(observation['peers']), members=sorted(m['name'] for m in observation['members']))
    else:
        result.update(error=observation['error'], failure=observation.get('failure'))
    return result


def verify(observations, previous=None, handshake_max_age=PEER_DOWN_INTERVAL, mtu=None):
    """The full report on a mesh; ``observations`` (and ``previous``) as made by ``collect.observe_all``."""
    resolve_names(observations)
    seen = {}
    for observation in observations:
        if observation['name'] in seen:
            raise MeshInputError('the addresses %s and %s are both node %s: list every node once'
                                 % (seen[observation['name']], observation['address'], observation['name']))
        seen[observation['name']] = observation['address']
    names = [o['name'] for o in observations]
    cells, extras = build_matrix(observations, previous, handshake_max_age)
    errors = {o['name']: o['error'] for o in observations if not o.get('reachable')}
    links = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            diagnosis = diagnose_link(a, b, cells[(a, b)], cells[(b, a)], errors)
            link = dict(nodes=[a, b], ok=diagnosis is None, states=[cells[(a, b)]['state'], cells[(b, a)]['state']])
            if diagnosis is not None:
                link.update(reason=diagnosis[0], message=diagnosis[1])
            links.append(link)
    mtu_report, mtu_problems = check_mtu(**(mtu or {}))
    broken = [link for link in links if not link['ok']]
    problems = ['%s <-> %s: %s' % (link['nodes'][0], link['nodes'][1], link['message']) for link in broken]
    problems += extras + mtu_problems
    ordered = [cells[(a, b)] for a in names for b in names if a != b]
    return dict(
        healthy=not problems,
        nodes=[_node_summary(o) for o in observations],
        matrix={a: {b: cells[(a, b)]['state'] for b in names if b != a} for a in names},
        pairs=ordered,
        links=links,
        broken_links=['%s <-> %s (%s)' % (link['nodes'][0], link['nodes'][1], link['reason']) for link in broken],
        extras=extras,
        mtu=mtu_report,
        problems=problems,
        counts=dict(nodes=len(names), pairs=len(ordered), pairs_up=sum(1 for cell in ordered if cell['state'] == UP),
                    pairs_ok=sum(1 for cell in ordered if cell['ok']), links=len(links), links_ok=len(links) - len(broken)),
    )


def failure_message(report):
    """One sentence naming what is broken, for the module's ``msg``."""
    parts = []
    if report['broken_links']:
        parts.append('%d of %d links broken: %s'
                     % (len(report['broken_links']), report['counts']['links'], ', '.join(report['broken_links'])))
    if report['extras']:
        parts.append('%d unexpected peers or members (%s)' % (len(report['extras']), '; '.join(report['extras'])))
    if report['mtu']['problems']:
        parts.append('MTU: %s' % '; '.join(report['mtu']['problems']))
    return 'The KubeSpan mesh of %d nodes is not healthy: %s.' % (report['counts']['nodes'], '; '.join(parts))


# Failures a node recovers from by itself (it reboots, its API starts, the network comes back). Any
# other failure (wrong CA, expired certificate, missing role, maintenance mode) waiting cannot cure.
TRANSIENT_FAILURES = ('unreachable', 'unavailable', 'timeout')


def worth_waiting(report, observations):
    """Whether re-checking may find the mesh healthy: only broken links can heal by themselves.

    ``report`` is None when no node answered at all.

    A fresh mesh starts with its peers ``unknown`` (Talos says ``up`` only after a handshake and its
    next 30 s refresh), and a rebooted node needs a while to answer again; a node refusing our
    certificate, an MTU mismatch or a peer that is not in the list stay as they are, except a peer that has left
    discovery (a node just reset): Talos drops it once it has processed the departure.
    """
    if report is not None and (report['healthy'] or report['mtu']['problems']
                               or any(not extra.endswith(LEAVING) for extra in report['extras'])):
        return False
    return all(o.get('reachable') or (o.get('failure') or {}).get('reason') in TRANSIENT_FAILURES for o in observations)
