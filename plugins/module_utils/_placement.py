# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where storage can go in a hybrid cluster, judged from the live objects (storage_placement).

The rules (docs/storage.md, "Placement"):

* each CSI driver's node plugin runs, and is registered in ``CSINode``, on the nodes of its sites and on no other (a
  node of its sites that takes no ordinary pods - a tainted control plane - may go without, unless a plugin pod was
  put there and did not register);
* each StorageClass of such a driver admits (``allowedTopologies``, matched against node labels as the scheduler
  does) only nodes of the driver's sites, and at least one - so a claim of that class, and the pod that uses it,
  can only land on that site;
* at most one StorageClass is the default.

Everything here is pure: the module reads the objects and hands them in.
"""

from __future__ import annotations

DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class'


def _labels(obj):
    return (obj.get('metadata') or {}).get('labels') or {}


def _name(obj):
    return obj['metadata']['name']


def admitted(storage_class, nodes):
    """Names of the nodes a claim of this class may be provisioned for: any term of allowedTopologies matches."""
    terms = storage_class.get('allowedTopologies') or []
    if not terms:
        return sorted(_name(n) for n in nodes)
    found = []
    for node in nodes:
        labels = _labels(node)
        if any(all(labels.get(e.get('key')) in (e.get('values') or ()) for e in term.get('matchLabelExpressions') or ())
               for term in terms):
            found.append(_name(node))
    return sorted(found)


def is_default(storage_class):
    return ((storage_class.get('metadata') or {}).get('annotations') or {}).get(DEFAULT_CLASS_ANNOTATION) == 'true'


def registered(csinodes, driver):
    return sorted(_name(c) for c in csinodes if any(d.get('name') == driver for d in (c.get('spec') or {}).get('drivers') or ()))


def takes_pods(node):
    """A node without NoSchedule or NoExecute taints: ordinary workloads, and their volumes, can land there."""
    return not any(t.get('effect') in ('NoSchedule', 'NoExecute') for t in (node.get('spec') or {}).get('taints') or ())


def placed_on(pods, nodes):
    """The nodes ``pods`` run on. A pod that is terminating, or bound to a node that no longer exists, does not count:
    kube-controller-manager's pod garbage collector deletes those (a removed node leaves its DaemonSet pods behind
    for up to a minute)."""
    existing = {_name(n) for n in nodes}
    return {p['spec'].get('nodeName') for p in pods or ()
            if p['spec'].get('nodeName') in existing and not (p.get('metadata') or {}).get('deletionTimestamp')}


def judge(drivers, nodes, csinodes, csidrivers, storage_classes, plugin_pods, site_label):
    """(table, violations, warnings).

    ``drivers``: [{'name', 'sites'}]; ``plugin_pods``: {driver: [pods of its node plugin]} (None: not looked at)."""
    site_of = {_name(n): _labels(n).get(site_label) for n in nodes}
    # A CSINode outlives its deleted Node until the garbage collector follows its owner reference.
    csinodes = [c for c in csinodes if _name(c) in site_of]
    open_nodes = {_name(n) for n in nodes if takes_pods(n)}
    installed = {_name(d) for d in csidrivers}
    violations, warnings, table = [], [], []
    site_nodes = {}
    for driver in drivers:
        name, sites = driver['name'], list(driver['sites'])
        own = sorted(n for n, site in site_of.items() if site in sites)
        site_nodes[name] = own
        if name not in installed:
            violations.append('CSIDriver %s is not installed' % name)
            continue
        on = registered(csinodes, name)
        pods = (plugin_pods or {}).get(name)
        placed = placed_on(pods, nodes)
        missing = sorted(n for n in set(own) - set(on) if n in open_nodes or n in placed)
        outside = sorted(set(on) - set(own))
        if missing:
            violations.append('CSI driver %s is not registered on node(s) %s of site %s' % (name, ', '.join(missing), '/'.join(sites)))
        if outside:
            violations.append('CSI driver %s is registered on node(s) %s, outside site %s' % (name, ', '.join(outside), '/'.join(sites)))
        stray = sorted(placed - set(own))
        if stray:
            violations.append('the node plugin of %s has pods on node(s) %s, outside site %s' % (name, ', '.join(stray), '/'.join(sites)))
    by_driver = {d['name']: d for d in drivers}
    defaults = sorted(_name(sc) for sc in storage_classes if is_default(sc))
    if len(defaults) > 1:
        violations.append('StorageClasses %s are all marked default (at most one may be)' % ', '.join(defaults))
    for sc in sorted(storage_classes, key=_name):
        provisioner = sc.get('provisioner')
        row = dict(storage_class=_name(sc), provisioner=provisioner, default=is_default(sc),
                   binding=sc.get('volumeBindingMode') or 'Immediate', sites=[], nodes=admitted(sc, nodes))
        driver = by_driver.get(provisioner)
        if driver is not None:
            row['sites'] = list(driver['sites'])
            outside = sorted(set(row['nodes']) - set(site_nodes[provisioner]))
            if outside:
                violations.append('StorageClass %s lets volumes and their pods onto node(s) %s, outside site %s%s'
                                  % (_name(sc), ', '.join(outside), '/'.join(driver['sites']),
                                     '' if sc.get('allowedTopologies') else ' (it has no allowedTopologies)'))
            elif not row['nodes']:
                violations.append('StorageClass %s admits no node at all, so its claims stay Pending' % _name(sc))
            if row['binding'] != 'WaitForFirstConsumer':
                warnings.append('StorageClass %s binds Immediately: its volumes are placed before the pod that uses them is '
                                'scheduled' % _name(sc))
        else:
            row['sites'] = sorted({site_of[n] for n in row['nodes'] if site_of.get(n)})
        table.append(row)
    return table, violations, warnings


def render(table):
    """The table as lines for people: class, provisioner, site, nodes."""
    rows = [('CLASS', 'PROVISIONER', 'SITE', 'BINDING', 'NODES')]
    for row in table:
        rows.append((row['storage_class'] + (' (default)' if row['default'] else ''), row['provisioner'] or '-',
                     '/'.join(row['sites']) or '-', row['binding'], ', '.join(row['nodes']) or '-'))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ['  '.join(r[i].ljust(widths[i]) for i in range(4)) + '  ' + r[4] for r in rows]
