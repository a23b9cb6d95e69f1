"""State of the Hetzner stand-in: ids, actions with a life cycle, and the list/filter/page rules.

Everything here runs under the server's single lock, so it needs no locking of its own.
Actions finish lazily: each request first calls ``tick()``, which completes the actions whose
time has come and applies their effects (a server becomes ``running`` when ``start_server``
succeeds, ...). That keeps the state deterministic without background threads.
"""
import datetime
import ipaddress
import itertools
import re
import time
import urllib.parse

from . import catalog, selector

PER_PAGE_DEFAULT = 25
PER_PAGE_MAX = 50
_NAME = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$')
_LABEL_KEY = re.compile(r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?'
                        r'[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$')
_LABEL_VALUE = re.compile(r'^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$')


class ApiError(Exception):
    """An error the API answers with its envelope ``{"error": {"code", "message", "details"}}``."""

    def __init__(self, status, code, message, details=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self):
        return {'error': {'code': self.code, 'message': self.message, 'details': self.details}}


def invalid_input(field, message):
    return ApiError(400, 'invalid_input', "invalid input in field '%s'" % field,
                    {'fields': [{'name': field, 'messages': [message]}]})


def not_found(kind, ident):
    return ApiError(404, 'not_found', '%s with ID %s not found' % (kind, ident))


def iso(when):
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S+00:00')


def check_labels(labels, field='labels'):
    """Labels as the real API accepts them; invalid_input otherwise."""
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise invalid_input(field, 'must be an object')
    for key, value in labels.items():
        if not isinstance(value, str) or not _LABEL_KEY.match(key) or len(key) > 317 or not _LABEL_VALUE.match(value):
            raise invalid_input(field, 'label %r is not a valid label' % key)
        if key.startswith('hetzner.cloud/'):
            raise invalid_input(field, 'the hetzner.cloud/ prefix is reserved')
    return dict(labels)


def check_name(name, field='name'):
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid_input(field, 'must be a valid hostname')
    return name


class Store(object):
    def __init__(self, action_seconds=0.5, clock=time.time, ipv4_pool=None):
        self.clock = clock
        self.action_seconds = action_seconds
        self.catalog = catalog.build()
        # A second lab hands out public addresses from a network of its own (LAB_HCLOUD_IPV4_POOL).
        self._pool = iter(ipaddress.ip_network(ipv4_pool).hosts()) if ipv4_pool else None
        self.servers = {}
        self.primary_ips = {}
        self.networks = {}
        self.firewalls = {}
        self.placement_groups = {}
        self.ssh_keys = {}
        self.volumes = {}
        self.actions = {}
        self._running = []
        self._ids = itertools.count(10000001)
        self._action_ids = itertools.count(500000001)
        self._ip_serial = itertools.count(1)
        # [{'command': name or None, 'count': n, 'code': ..., 'message': ...}]: actions that will end in error.
        self.action_failures = []

    def new_id(self):
        return next(self._ids)

    def now(self):
        return iso(self.clock())

    # ------------------------------------------------------------------ actions

    def action(self, command, resources, on_success=None, on_error=None):
        """Start an action on ``resources`` (``[(type, id)]``); it finishes after ``action_seconds``."""
        aid = next(self._action_ids)
        record = {'id': aid, 'command': command, 'status': 'running', 'progress': 0, 'started': self.now(),
                  'finished': None, 'error': None,
                  'resources': [{'id': rid, 'type': kind} for kind, rid in resources]}
        self.actions[aid] = record
        self._running.append((self.clock() + self.action_seconds, aid, on_success, on_error))
        if self.action_seconds <= 0:
            self.tick()
        return record

    def _take_failure(self, record):
        for rule in self.action_failures:
            if rule.get('resource') is not None and rule['resource'] not in [r['id'] for r in record['resources']]:
                continue
            if rule['command'] in (None, record['command']):
                rule['count'] -= 1
                if rule['count'] <= 0:
                    self.action_failures.remove(rule)
                return rule
        return None

    def tick(self):
        """Finish every running action whose time has come, applying its effects."""
        now = self.clock()
        due = [entry for entry in self._running if entry[0] <= now]
        if not due:
            return
        self._running = [entry for entry in self._running if entry[0] > now]
        for _when, aid, on_success, on_error in sorted(due, key=lambda e: (e[0], e[1])):
            record = self.actions[aid]
            failure = self._take_failure(record)
            record['progress'] = 100
            record['finished'] = self.now()
            if failure:
                record['status'] = 'error'
                record['error'] = {'code': failure.get('code') or 'action_failed',
                                   'message': failure.get('message') or 'Action failed (injected by the lab)'}
                if on_error:
                    on_error()
            else:
                record['status'] = 'success'
                if on_success:
                    on_success()

    def actions_of(self, kind, rid):
        return [a for a in self.actions.values() if any(r['type'] == kind and r['id'] == rid for r in a['resources'])]

    # ---------------------------------------------------------------- addresses

    def public_ipv4(self):
        """The next public address: the three documentation ranges, then 100.64.0.0/10.

        203.0.113.0/24 comes first: machines of this workplace use 192.0.2.0/24 for their own uplink,
        and the Talos node simulator puts the VPS nodes at these addresses.
        """
        serial = next(self._ip_serial)
        if self._pool is not None:
            address = next(self._pool, None)
            if address is not None:
                return str(address), serial
        if serial <= 762:
            block, host = divmod(serial - 1, 254)
            return '%s.%d' % (('203.0.113', '198.51.100', '192.0.2')[block], host + 1), serial
        serial -= 762
        return '100.%d.%d.%d' % (64 + serial // 65536, (serial // 256) % 256, serial % 256), serial + 762

    # ------------------------------------------------------------------ listing

    def listing(self, req, key, items, filters=None, render=None):
        """Filter (``name``, ``label_selector`` and ``filters``), sort and page ``items`` the way the API does.

        ``render`` turns the stored records of the page into API objects; filtering first keeps a list
        of thousands of servers cheap.
        """
        name = req.one('name')
        if name is not None:
            items = [i for i in items if i.get('name') == name]
        raw_selector = req.one('label_selector')
        if raw_selector is not None:
            try:
                terms = selector.parse(raw_selector)
            except selector.SelectorError as exc:
                raise invalid_input('label_selector', str(exc))
            items = [i for i in items if selector.matches(terms, i.get('labels') or {})]
        for field, values in (filters or {}).items():
            if values:
                items = [i for i in items if str(i.get(field)) in values]
        items = self._sort(req.all('sort'), items)
        status, body, headers = self.page(req, key, items)
        if render is not None:
            body[key] = [render(item) for item in body[key]]
        return status, body, headers

    @staticmethod
    def _sort(sorts, items):
        items = sorted(items, key=lambda i: i.get('id', 0))
        for spec in reversed(sorts or []):
            field, dummy, direction = spec.partition(':')
            if direction not in ('', 'asc', 'desc'):
                raise invalid_input('sort', 'unknown sort direction %r' % direction)
            items = sorted(items, key=lambda i, f=field: (i.get(f) is None, str(i.get(f)) if not isinstance(i.get(f), int)
                                                          else i.get(f)), reverse=direction == 'desc')
        return items

    @staticmethod
    def page(req, key, items):
        page = req.integer('page', 1, minimum=1)
        per_page = min(req.integer('per_page', PER_PAGE_DEFAULT, minimum=1), PER_PAGE_MAX)
        total = len(items)
        last = max(1, -(-total // per_page))
        chunk = items[(page - 1) * per_page:page * per_page]
        meta = {'pagination': {'page': page, 'per_page': per_page, 'previous_page': page - 1 if page > 1 else None,
                               'next_page': page + 1 if page < last else None, 'last_page': last,
                               'total_entries': total}}
        links = []
        for rel, number in (('prev', meta['pagination']['previous_page']), ('next', meta['pagination']['next_page']),
                            ('last', last)):
            if number is not None:
                query = [(k, v) for k, v in req.query if k not in ('page', 'per_page')]
                query += [('page', str(number)), ('per_page', str(per_page))]
                links.append('<%s?%s>; rel="%s"' % (req.url, urllib.parse.urlencode(query), rel))
        return 200, {key: chunk, 'meta': meta}, {'Link': ', '.join(links)}
