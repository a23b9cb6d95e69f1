"""Drive the Hetzner stand-in's control endpoint (``LAB_HCLOUD_CONTROL``) from tests and benchmarks.

    control = HcloudControl.from_env()        # reads LAB_HCLOUD_CONTROL, or .lab/env
    control.reset_counters()
    ...                                       # run the code under test
    control.counters()                        # {'total': 12, 'endpoints': {'GET /servers': 10, ...}}
    control.fault('429', count=3)             # the next 3 API requests answer 429 rate_limit_exceeded
    control.fault('5xx', status=503, count=2, path='/servers')
    control.fault('latency', seconds=0.3, count=5)
    control.fault('action_error', command='create_server')
    control.clear_faults()
"""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

from . import state


class ControlError(Exception):
    """The control endpoint refused a call or could not be reached."""


class HcloudControl(object):
    def __init__(self, url):
        self.url = url.rstrip('/')

    @classmethod
    def from_env(cls, env_file=None):
        url = os.environ.get('LAB_HCLOUD_CONTROL')
        if not url:
            url = state.read_env(env_file)['LAB_HCLOUD_CONTROL']
        return cls(url)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b'null')
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors='replace')
            raise ControlError('%s %s%s failed with %s: %s' % (method, self.url, path, exc.code, detail)) from None
        except OSError as exc:
            raise ControlError('cannot reach the lab control endpoint %s: %s' % (self.url, exc)) from None

    def health(self):
        return self.call('GET', '/health')

    def machines(self):
        """Every server as the hypervisor sees it: id, name, status, ipv4, labels, location and user_data."""
        return self.call('GET', '/machines')['machines']

    def counters(self, agent=None):
        """``{'total': n, 'endpoints': {'METHOD /template': n}}`` since the last reset; ``agent`` keeps only
        requests whose User-Agent contains it (``hcloud.Client(application_name=...)`` sets one)."""
        return self.call('GET', '/counters' + self._agent(agent))

    def reset_counters(self, agent=None):
        """Zero the counters (of ``agent`` only, if given); returns the counts they had."""
        return self.call('DELETE', '/counters' + self._agent(agent))

    @staticmethod
    def _agent(agent):
        return '?' + urllib.parse.urlencode({'agent': agent}) if agent else ''

    def fault(self, kind, count=1, **options):
        """Inject a fault: kind ``429``, ``5xx`` (status, html), ``latency`` (seconds) or ``action_error``
        (command, resource id, code, message: the next matching action ends in ``error``).
        ``count=None`` keeps it until ``clear_faults()``; ``method``, ``path`` (a prefix under /v1,
        e.g. ``/servers``) and ``agent`` (a User-Agent substring) narrow which
        requests it hits, so parallel tests do not trip over each other's faults."""
        spec = dict(options, kind=str(kind), count=count)
        return self.call('POST', '/faults', spec)

    def faults(self):
        return self.call('GET', '/faults')

    def clear_faults(self):
        return self.call('DELETE', '/faults')

    def rate_limit(self, capacity=None, refill=None, remaining=None):
        """Read, or set and refill, the token bucket behind the RateLimit headers."""
        if capacity is None and refill is None and remaining is None:
            return self.call('GET', '/ratelimit')
        spec = dict((k, v) for k, v in (('capacity', capacity), ('refill', refill), ('remaining', remaining))
                    if v is not None)
        return self.call('PUT', '/ratelimit', spec)

    def action_seconds(self, seconds):
        return self.call('PUT', '/actions', {'seconds': seconds})

    def validation(self, enabled=None):
        """Turn the OpenAPI conformance check on or off (None: just read it)."""
        if enabled is None:
            return self.call('GET', '/validation')['enabled']
        return self.call('PUT', '/validation', {'enabled': bool(enabled)})['enabled']

    def violations(self, clear=False):
        return self.call('DELETE' if clear else 'GET', '/violations')['violations']
