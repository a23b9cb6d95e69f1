"""The HTTP side of the Hetzner stand-in: auth, rate limit, faults, counters, validation, control API.

``/v1/...`` is the Hetzner Cloud API. ``/__lab__/...`` is the lab's control endpoint (loopback
only, not part of the real API): request counters, fault injection, rate-limit settings and the
OpenAPI conformance switch. See docs/lab.md.
"""
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import OracleMissing, firewalls, misc, networks, openapi_missing, primary_ips, servers, volumes
from .routes import Request, resolve
from .store import ApiError, Store

# Importing these modules registers their routes.
RESOURCE_MODULES = (firewalls, misc, networks, primary_ips, servers, volumes)

PREFIX = '/v1'
CONTROL = '/__lab__'
FIVE_XX_CODES = {500: 'service_error', 502: 'bad_gateway', 503: 'unavailable', 504: 'timeout'}
FAULT_KINDS = ('429', '5xx', 'latency', 'action_error')


class Bucket(object):
    """The project's rate limit: ``capacity`` requests, refilled by ``refill`` per second."""

    def __init__(self, capacity=3600, refill=1.0, clock=time.time):
        self.clock = clock
        self.configure(capacity, refill)

    def configure(self, capacity, refill, remaining=None):
        self.capacity = int(capacity)
        self.refill = float(refill)
        self.tokens = float(self.capacity if remaining is None else remaining)
        self.stamp = self.clock()

    def _fill(self):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now

    def take(self):
        """Spend one request; False when the bucket is empty."""
        self._fill()
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def headers(self):
        self._fill()
        missing = self.capacity - self.tokens
        reset = self.stamp + (missing / self.refill if self.refill > 0 else 3600)
        return {'RateLimit-Limit': str(self.capacity), 'RateLimit-Remaining': str(int(self.tokens)),
                'RateLimit-Reset': str(int(reset + 0.999))}


class Lab(object):
    """Everything the request handler shares: the store, tokens, bucket, faults, counters, oracle."""

    def __init__(self, tokens, action_seconds=0.5, capacity=3600, refill=1.0, validate=False, ipv4_pool=None):
        self.lock = threading.Lock()
        self.store = Store(action_seconds=action_seconds, ipv4_pool=ipv4_pool)
        self.tokens = dict(tokens)  # token -> 'rw' or 'ro'
        self.bucket = Bucket(capacity, refill)
        self.faults = []
        self.counters = {}
        self.oracle = None
        self.violations = []
        if validate:
            self.enable_validation(True)

    def enable_validation(self, enabled):
        if enabled and self.oracle is None:
            if openapi_missing():
                raise OracleMissing(openapi_missing())
            from .oracle import shared  # openapi-core is a test-only dependency: load it on demand
            self.oracle = shared()
        self.validating = bool(enabled)

    validating = False

    def take_fault(self, method, path, agent):
        """The first active fault that matches the request, its count spent; None if none does."""
        for fault in self.faults:
            if fault.get('agent') and fault['agent'] not in agent:
                continue
            if fault.get('method') and fault['method'] != method:
                continue
            if fault.get('path') and not path.startswith(fault['path']):
                continue
            if fault.get('count') is not None:
                fault['count'] -= 1
                if fault['count'] <= 0:
                    self.faults.remove(fault)
            return dict(fault)
        return None

    def add_fault(self, spec):
        kind = str(spec.get('kind'))
        if kind not in FAULT_KINDS:
            raise ValueError('kind must be one of %s' % ', '.join(FAULT_KINDS))
        count = spec.get('count')
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError('count must be a positive integer or null (until cleared)')
        fault = {'kind': kind, 'count': count, 'method': spec.get('method'), 'path': spec.get('path'),
                 'agent': spec.get('agent')}
        if kind == '5xx':
            fault['status'] = int(spec.get('status', 503))
            if not 500 <= fault['status'] <= 599:
                raise ValueError('status must be 5xx')
            fault['html'] = bool(spec.get('html', False))
        if kind == 'latency':
            fault['seconds'] = float(spec.get('seconds', 0.5))
        if kind == 'action_error':
            self.store.action_failures.append({'command': spec.get('command'), 'count': count or 1,
                                               'resource': spec.get('resource'),
                                               'code': spec.get('code'), 'message': spec.get('message')})
            return fault
        self.faults.append(fault)
        return fault


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'hcloud-lab/1'
    lab = None  # set by make_server

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: the counters say what was asked."""

    def do_GET(self):
        self._handle('GET')

    def do_POST(self):
        self._handle('POST')

    def do_PUT(self):
        self._handle('PUT')

    def do_DELETE(self):
        self._handle('DELETE')

    # ------------------------------------------------------------------ plumbing

    def _read(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _send(self, status, body, headers=None, content_type='application/json'):
        if body is None:
            data = b''
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        for key, value in (headers or {}).items():
            if value:
                self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)
        return data

    def _handle(self, method):
        parsed = urllib.parse.urlsplit(self.path)
        raw = self._read()
        if parsed.path.startswith(CONTROL + '/'):
            self._control(method, self.path[len(CONTROL):], raw)
            return
        lab = self.lab
        query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
        path = parsed.path[len(PREFIX):] if parsed.path.startswith(PREFIX + '/') else None
        template, fn, args = resolve(method, path) if path is not None else (None, None, {})
        agent = self.headers.get('User-Agent') or ''
        with lab.lock:
            key = ('%s %s' % (method, template or parsed.path), agent)
            lab.counters[key] = lab.counters.get(key, 0) + 1
            fault = lab.take_fault(method, path or parsed.path, agent)
        if fault and fault['kind'] == 'latency':
            time.sleep(fault['seconds'])
            fault = None
        with lab.lock:
            status, body, headers, content_type = self._answer(method, path, query, raw, template, fn, args, fault)
            headers.update(lab.bucket.headers())
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        # Checked before the answer leaves, so a client never sees a response whose violation is not yet recorded.
        if lab.validating and content_type == 'application/json':
            self._check(method, parsed, raw, status, data, headers)
        self._send(status, data, headers, content_type)

    def _answer(self, method, path, query, raw, template, fn, args, fault):
        lab = self.lab
        headers = {}
        try:
            if not lab.bucket.take() or (fault and fault['kind'] == '429'):
                raise ApiError(429, 'rate_limit_exceeded', 'limit of %d requests per hour reached' % lab.bucket.capacity)
            if fault and fault['kind'] == '5xx':
                if fault['html']:
                    page = '<html><body><h1>%d</h1></body></html>' % fault['status']
                    return fault['status'], page.encode(), headers, 'text/html'
                raise ApiError(fault['status'], FIVE_XX_CODES.get(fault['status'], 'service_error'),
                               'the lab injected a server error')
            token = (self.headers.get('Authorization') or '').partition('Bearer ')[2].strip()
            if token not in lab.tokens:
                raise ApiError(401, 'unauthorized', 'unable to authenticate')
            if fn is None:
                if path is not None and args.get('known_path'):
                    raise ApiError(405, 'method_not_allowed', 'method %s is not allowed here' % method)
                raise ApiError(404, 'not_found', 'the requested resource was not found')
            if method != 'GET' and lab.tokens[token] != 'rw':
                raise ApiError(403, 'token_readonly', 'The token is only allowed to perform GET requests')
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiError(400, 'json_error', 'invalid JSON input in your request')
            if method in ('POST', 'PUT') and not isinstance(body, dict):
                raise ApiError(400, 'json_error', 'the request body must be a JSON object')
            lab.store.tick()
            url = 'http://%s%s%s' % (self.headers.get('Host', 'localhost'), PREFIX, path)
            result = fn(lab.store, Request(query, body, args, url))
            status, payload = result[0], result[1]
            if len(result) > 2:
                headers.update(result[2])
            return status, payload, headers, 'application/json'
        except ApiError as exc:
            return exc.status, exc.body(), headers, 'application/json'

    def _check(self, method, parsed, raw, status, data, headers):
        """Validate the exchange against the published OpenAPI description; record what does not match."""
        found = self.lab.oracle.check(method, parsed.path, parsed.query, dict(self.headers.items()), raw,
                                      status, data, headers)
        if found:
            with self.lab.lock:
                for kind, message in found:
                    self.lab.violations.append({'method': method, 'path': parsed.path, 'query': parsed.query,
                                                'status': status, 'kind': kind, 'error': message})

    # ----------------------------------------------------------------- control

    def _control(self, method, target, raw):
        lab = self.lab
        path, dummy, query = target.partition('?')
        try:
            spec = json.loads(raw) if raw else {}
        except ValueError:
            self._send(400, {'error': 'the body must be JSON'})
            return
        with lab.lock:
            try:
                status, body = self._control_answer(lab, method, path, spec, dict(urllib.parse.parse_qsl(query)))
            except (ValueError, TypeError) as exc:
                status, body = 400, {'error': str(exc)}
        self._send(status, body)

    @staticmethod
    def _control_answer(lab, method, path, spec, query):
        if path == '/health':
            return 200, {'ok': True, 'servers': len(lab.store.servers)}
        if path == '/machines':
            # What the hypervisor knows and the API never shows again: the lab's machines boot from it.
            lab.store.tick()
            return 200, {'machines': [
                {'id': s['id'], 'name': s['name'], 'status': s['status'], 'ipv4': s['ipv4'], 'labels': dict(s['labels']),
                 'location': s['datacenter']['location']['name'], 'user_data': s['user_data']}
                for s in sorted(lab.store.servers.values(), key=lambda s: s['id'])]}
        switched_off = re.match(r'^/machines/(\d+)/off$', path)
        if switched_off and method == 'POST':
            # The guest powered itself off (a Talos reset without reboot): the hypervisor, and so the API, shows it off.
            server = lab.store.servers.get(int(switched_off.group(1)))
            if server is None:
                return 404, {'error': 'no server %s' % switched_off.group(1)}
            server['status'] = 'off'
            return 200, {'id': server['id'], 'status': server['status']}
        if path == '/counters':
            # ?agent=TEXT counts only the requests whose User-Agent contains TEXT (one client among several).
            agent = query.get('agent', '')
            endpoints = {}
            for (key, seen), count in list(lab.counters.items()):
                if agent in seen:
                    endpoints[key] = endpoints.get(key, 0) + count
                    if method == 'DELETE':
                        del lab.counters[(key, seen)]
            return 200, {'total': sum(endpoints.values()), 'endpoints': dict(sorted(endpoints.items()))}
        if path == '/faults':
            if method == 'POST':
                return 201, lab.add_fault(spec)
            if method == 'DELETE':
                lab.faults = []
                lab.store.action_failures = []
            return 200, {'faults': lab.faults, 'action_errors': lab.store.action_failures}
        if path == '/ratelimit':
            if method == 'PUT':
                lab.bucket.configure(spec.get('capacity', lab.bucket.capacity), spec.get('refill', lab.bucket.refill),
                                     spec.get('remaining'))
            lab.bucket._fill()  # pylint: disable=protected-access
            return 200, {'capacity': lab.bucket.capacity, 'refill': lab.bucket.refill,
                         'remaining': int(lab.bucket.tokens)}
        if path == '/actions' and method == 'PUT':
            lab.store.action_seconds = float(spec['seconds'])
            return 200, {'seconds': lab.store.action_seconds}
        if path == '/validation':
            if method == 'PUT':
                try:
                    lab.enable_validation(bool(spec.get('enabled')))
                except OracleMissing as exc:
                    return 409, {'error': str(exc)}
            return 200, {'enabled': lab.validating}
        if path == '/violations':
            snapshot = list(lab.violations)
            if method == 'DELETE':
                lab.violations = []
            return 200, {'violations': snapshot}
        return 404, {'error': 'no lab control endpoint %s %s' % (method, path)}


def make_server(lab, host, port):
    handler = type('LabHandler', (Handler,), {'lab': lab})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
