# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service catalogue: placement rules checked, and placement values rendered, from one table (docs/services.md).

The table (``gitops_catalogue`` in roles/gitops/defaults/main.yml) says per service its chart, namespace, tier,
storage class and size, replicas, anti-affinity, whether it runs on the control planes, ``depends_on``, and *where in
the chart's values* each of these goes (``placement_paths``, ``storage.class_paths`` ...), so no chart's value layout
is copied into code. The rules:

* a ``critical`` service runs on the always-on VPS site and keeps its data in a class of that site;
* a ``storage-heavy`` service runs at home and keeps its data in a class of the home site;
* a ``control_plane`` service (Vault) runs one replica per control plane, tolerating their taint; a ``quorum``
  service (Vault's Raft) needs an odd number of replicas, at least 3;
* ``depends_on`` names enabled services, without cycles; chart versions are pinned (no ranges).

Everything here is pure; a broken rule raises :class:`CatalogueError` with one sentence, before anything is written.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.hybridops.talos.plugins.module_utils._errors import ModuleError

TIERS = ('critical', 'storage-heavy')
ANTI_AFFINITY = ('required', 'preferred', 'none')
CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane'
HOSTNAME_KEY = 'kubernetes.io/hostname'
CONTROL_PLANE_TOLERATION = {'key': CONTROL_PLANE_LABEL, 'operator': 'Exists', 'effect': 'NoSchedule'}
# A pinned chart version is an exact SemVer, with an optional leading v (cert-manager tags its charts v1.19.1).
PINNED = re.compile(r'^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$')


class CatalogueError(ModuleError):
    def __init__(self, sentence, **details):
        super().__init__('placement_refused', sentence, sentence=sentence, **details)


def enabled_services(catalogue, enabled):
    """The enabled entries, in the catalogue's order, each with its ``name``; unknown names are refused."""
    unknown = sorted(set(enabled) - set(catalogue))
    if unknown:
        raise CatalogueError('Service(s) %s are not in the catalogue (known: %s).' % (', '.join(unknown), ', '.join(sorted(catalogue))),
                             services=unknown)
    return [dict(copy.deepcopy(catalogue[name]), name=name) for name in catalogue if name in enabled]


def _site_for(tier, sites):
    return sites['critical'] if tier == 'critical' else sites['home']


def check(services, sites, class_sites, control_planes):
    """Refuse the first broken rule (one sentence); ``services`` come from :func:`enabled_services`."""
    names = {s['name'] for s in services}
    for service in services:
        name, tier = service['name'], service.get('tier')
        if tier not in TIERS:
            raise CatalogueError('Service %s has tier %r; the tiers are %s.' % (name, tier, ' and '.join(TIERS)), service=name)
        chart = service.get('chart') or {}
        for field in ('url', 'name', 'version'):
            if not chart.get(field):
                raise CatalogueError('Service %s has no chart %s in the catalogue.' % (name, field), service=name)
        if not PINNED.match(str(chart['version'])):
            raise CatalogueError('Service %s pins chart version %r, which is not an exact version (ranges are refused so a '
                                 'rerun installs the same chart).' % (name, chart['version']), service=name)
        if not service.get('namespace'):
            raise CatalogueError('Service %s has no namespace in the catalogue.' % name, service=name)
        site = _site_for(tier, sites)
        storage = service.get('storage') or {}
        if storage.get('class'):
            where = class_sites.get(storage['class'])
            if where is None:
                raise CatalogueError('Service %s asks for storage class %s, which is on no site of gitops_storage_classes (%s).'
                                     % (name, storage['class'], ', '.join(sorted(class_sites)) or 'none'), service=name)
            if where != site:
                raise CatalogueError('Service %s is %s and must keep its data on site %s, but storage class %s is on site %s.'
                                     % (name, tier, site, storage['class'], where), service=name)
            if not storage.get('size'):
                raise CatalogueError('Service %s has a storage class but no size.' % name, service=name)
        replicas = (service.get('replicas') or {}).get('count', 1)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
            raise CatalogueError('Service %s asks for %r replicas; give a whole number of at least 1.' % (name, replicas), service=name)
        anti = service.get('anti_affinity', 'none')
        if anti not in ANTI_AFFINITY:
            raise CatalogueError('Service %s has anti_affinity %r; choose one of %s.' % (name, anti, ', '.join(ANTI_AFFINITY)), service=name)
        if service.get('quorum') and (replicas < 3 or replicas % 2 == 0):
            raise CatalogueError('Service %s keeps a Raft quorum and needs an odd number of replicas, at least 3 (asked: %d).'
                                 % (name, replicas), service=name)
        if service.get('control_plane'):
            if tier != 'critical':
                raise CatalogueError('Service %s runs on the control planes, which are on the VPS site, so its tier must be critical.'
                                     % name, service=name)
            if anti != 'required':
                raise CatalogueError('Service %s runs one replica per control plane and needs anti_affinity required.' % name,
                                     service=name)
            if replicas > control_planes:
                raise CatalogueError('Service %s asks for %d replicas, one per control plane, but the cluster has %d control plane(s).'
                                     % (name, replicas, control_planes), service=name)
        if (anti != 'none' or service.get('control_plane')) and not service.get('pod_labels'):
            raise CatalogueError('Service %s needs pod_labels for its anti-affinity.' % name, service=name)
        for dep in service.get('depends_on') or ():
            if dep not in names:
                raise CatalogueError('Service %s depends on %s, which is not enabled.' % (name, dep), service=name)
    _check_cycles(services)


def _check_cycles(services):
    deps = {s['name']: list(s.get('depends_on') or ()) for s in services}
    state = {}

    def visit(name, path):
        if state.get(name) == 'done':
            return
        if state.get(name) == 'open':
            raise CatalogueError('The depends_on of services form a cycle: %s.' % ' -> '.join(path + [name]), services=path)
        state[name] = 'open'
        for dep in deps[name]:
            visit(dep, path + [name])
        state[name] = 'done'

    for name in deps:
        visit(name, [])


def set_path(values, path, value):
    """Set ``value`` at the dotted ``path`` of ``values`` ('' is the top level, whose keys ``value`` is merged into)."""
    keys = [k for k in path.split('.') if k] if path else []
    if not keys:
        values.update(value)
        return
    here = values
    for key in keys[:-1]:
        here = here.setdefault(key, {})
    here[keys[-1]] = value


def placement(service, sites, site_label):
    """nodeSelector, tolerations and affinity of the service's pods."""
    selector = {site_label: _site_for(service['tier'], sites)}
    tolerations = []
    if service.get('control_plane'):
        selector[CONTROL_PLANE_LABEL] = ''
        tolerations.append(dict(CONTROL_PLANE_TOLERATION))
    found = {'nodeSelector': selector, 'tolerations': tolerations}
    anti = service.get('anti_affinity', 'none')
    term = {'labelSelector': {'matchLabels': dict(service.get('pod_labels') or {})}, 'topologyKey': HOSTNAME_KEY}
    if anti == 'required':
        found['affinity'] = {'podAntiAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': [term]}}
    elif anti == 'preferred':
        found['affinity'] = {'podAntiAffinity': {'preferredDuringSchedulingIgnoredDuringExecution': [
            {'weight': 100, 'podAffinityTerm': term}]}}
    return found


def _merge(base, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def render_values(service, sites, site_label):
    """The release's ``values``: the catalogue's own values, then placement, storage and replicas at their paths."""
    values = copy.deepcopy(service.get('values') or {})
    place = placement(service, sites, site_label)
    for path in service.get('placement_paths', ['']):
        for key, value in place.items():
            if key == 'tolerations' and not value:
                continue
            set_path(values, '%s.%s' % (path, key) if path else key, copy.deepcopy(value))
    storage = service.get('storage') or {}
    if storage.get('class'):
        for path in storage.get('class_paths') or ():
            set_path(values, path, storage['class'])
        for path in storage.get('size_paths') or ():
            set_path(values, path, storage['size'])
    replicas = service.get('replicas') or {}
    for path in replicas.get('paths') or ():
        set_path(values, path, replicas.get('count', 1))
    return _merge(values, service.get('extra_values') or {})


def plan(catalogue, enabled, sites, class_sites, control_planes, site_label):
    """The checked services, each with its rendered ``rendered_values``, and the planned placement table."""
    services = enabled_services(catalogue, enabled)
    check(services, sites, class_sites, control_planes)
    table = []
    for service in services:
        service['rendered_values'] = render_values(service, sites, site_label)
        storage = service.get('storage') or {}
        table.append({'service': service['name'], 'namespace': service['namespace'], 'tier': service['tier'],
                      'site': _site_for(service['tier'], sites), 'control_plane': bool(service.get('control_plane')),
                      'replicas': (service.get('replicas') or {}).get('count', 1),
                      'storage_class': storage.get('class'), 'size': storage.get('size')})
    return services, table


def report_lines(table):
    """The planned placement for people: service, namespace, site, replicas, storage class."""
    rows = [('SERVICE', 'NAMESPACE', 'TIER', 'SITE', 'NODES', 'REPLICAS', 'STORAGE')]
    for row in table:
        rows.append((row['service'], row['namespace'], row['tier'], row['site'],
                     'control planes' if row['control_plane'] else 'any of the site', str(row['replicas']),
                     '%s %s' % (row['storage_class'], row['size']) if row['storage_class'] else '-'))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ['  '.join(r[i].ljust(widths[i]) for i in range(len(widths))) + '  ' + r[-1] for r in rows]
