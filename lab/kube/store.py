"""Objects in the control planes' real etcd, through its v3 JSON gateway, laid out as kube-apiserver
lays them out: ``/registry/<resource>/<namespace>/<name>`` (custom resources under their group too).

resourceVersion is etcd's mod_revision (a list's is the revision it was read at), creates and updates
are transactions that compare create_revision / mod_revision, and watches are etcd watches. The values
are JSON (the real server stores built-ins as protobuf) without resourceVersion, which is set on read.
When etcd has no quorum every call fails with ``Unavailable``: the API goes away with it.
"""
import asyncio
import base64
import json

import aiohttp

TIMEOUT = 5.0


class Unavailable(Exception):
    """etcd did not answer (no quorum, stopped, timed out)."""


class Stale(Exception):
    """The compare of a transaction failed: the object changed (or exists / is gone)."""

    def __init__(self, current):
        super().__init__('stale')
        self.current = current  # (object, mod_revision) or None


def _b64(text):
    return base64.b64encode(text.encode()).decode('ascii')


def _unb64(text):
    return base64.b64decode(text).decode()


def range_end(prefix):
    data = bytearray(prefix.encode())
    data[-1] += 1
    return base64.b64encode(bytes(data)).decode('ascii')


def _decode(kv):
    obj = json.loads(base64.b64decode(kv['value']))
    revision = int(kv['mod_revision'])
    obj.setdefault('metadata', {})['resourceVersion'] = str(revision)
    return obj, revision


def _encode(obj):
    data = json.loads(json.dumps(obj))
    data.get('metadata', {}).pop('resourceVersion', None)
    return base64.b64encode(json.dumps(data, separators=(',', ':')).encode()).decode('ascii')


class Store:
    def __init__(self, endpoint='http://127.0.0.1:2379'):
        self.endpoint = endpoint.rstrip('/')
        self.session = None

    async def start(self):
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))

    async def close(self):
        if self.session is not None:
            await self.session.close()

    async def _call(self, path, body, timeout=TIMEOUT):
        try:
            async with self.session.post(self.endpoint + '/v3' + path, json=body,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                data = await response.json(content_type=None)
                if response.status != 200:
                    raise Unavailable('etcdserver: %s' % (data.get('message') or data.get('error') or response.status))
                return data
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise Unavailable('etcdserver: request timed out (%s)' % (exc.__class__.__name__,)) from None

    # ------------------------------------------------------------------ reads

    async def get(self, key):
        """(object, mod_revision) or None."""
        data = await self._call('/kv/range', {'key': _b64(key)})
        kvs = data.get('kvs') or []
        return _decode(kvs[0]) if kvs else None

    async def list(self, prefix, revision=None):
        """([(key, object, mod_revision)], revision read at)."""
        body = {'key': _b64(prefix), 'range_end': range_end(prefix)}
        if revision:
            body['revision'] = str(revision)
        data = await self._call('/kv/range', body)
        items = []
        for kv in data.get('kvs') or ():
            obj, modrev = _decode(kv)
            items.append((_unb64(kv['key']), obj, modrev))
        return items, int(data['header']['revision'])

    async def revision(self):
        data = await self._call('/kv/range', {'key': _b64('/registry/health'), 'count_only': True})
        return int(data['header']['revision'])

    # ------------------------------------------------------------------ writes

    async def _txn(self, key, compare, success):
        body = {'compare': [compare], 'success': success, 'failure': [{'request_range': {'key': _b64(key)}}]}
        data = await self._call('/kv/txn', body)
        if not data.get('succeeded'):
            kvs = ((data.get('responses') or [{}])[0].get('response_range') or {}).get('kvs') or []
            raise Stale(_decode(kvs[0]) if kvs else None)
        return int(data['header']['revision'])

    async def create(self, key, obj):
        """Store a new object; returns its revision. Raises Stale when the key exists."""
        return await self._txn(key, {'key': _b64(key), 'target': 'CREATE', 'create_revision': '0'},
                               [{'request_put': {'key': _b64(key), 'value': _encode(obj)}}])

    async def update(self, key, obj, revision):
        """Replace the object stored at ``revision``; returns the new revision. Raises Stale otherwise."""
        return await self._txn(key, {'key': _b64(key), 'target': 'MOD', 'mod_revision': str(revision)},
                               [{'request_put': {'key': _b64(key), 'value': _encode(obj)}}])

    async def delete(self, key, revision):
        return await self._txn(key, {'key': _b64(key), 'target': 'MOD', 'mod_revision': str(revision)},
                               [{'request_delete_range': {'key': _b64(key)}}])

    # ------------------------------------------------------------------ leases (leader election)

    async def grant(self, ttl):
        return (await self._call('/lease/grant', {'TTL': str(ttl)}))['ID']

    async def keepalive(self, lease):
        data = await self._call('/lease/keepalive', {'ID': lease})
        return int((data.get('result') or {}).get('TTL', 0)) > 0

    async def acquire(self, key, value, lease):
        """Put ``key`` with ``lease`` if nobody holds it; True when we hold it (now or already)."""
        body = {'compare': [{'key': _b64(key), 'target': 'CREATE', 'create_revision': '0'}],
                'success': [{'request_put': {'key': _b64(key), 'value': _b64(value), 'lease': lease}}],
                'failure': [{'request_range': {'key': _b64(key)}}]}
        data = await self._call('/kv/txn', body)
        if data.get('succeeded'):
            return True
        kvs = ((data.get('responses') or [{}])[0].get('response_range') or {}).get('kvs') or []
        return bool(kvs) and _unb64(kvs[0].get('value', '')) == value and kvs[0].get('lease') == lease

    # ------------------------------------------------------------------ watch

    async def watch(self, prefix, start_revision):
        """Yield (type 'PUT'|'DELETE', key, object or None, previous object or None, revision) from
        ``start_revision`` on; ends (raising Unavailable) when the stream breaks."""
        body = {'create_request': {'key': _b64(prefix), 'range_end': range_end(prefix), 'start_revision': str(start_revision),
                                   'prev_kv': True}}
        try:
            async with self.session.post(self.endpoint + '/v3/watch', json=body,
                                         timeout=aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT)) as response:
                async for line in _lines(response.content):
                    result = json.loads(line).get('result') or {}
                    if result.get('canceled') or result.get('compact_revision'):
                        raise Unavailable('etcd watch canceled: %s' % (result.get('cancel_reason') or 'compacted'))
                    for event in result.get('events') or ():
                        kv = event['kv']
                        key = _unb64(kv['key'])
                        prev = _decode(event['prev_kv'])[0] if event.get('prev_kv') else None
                        revision = int(kv['mod_revision'])
                        if event.get('type') == 'DELETE':
                            yield 'DELETE', key, None, prev, revision
                        else:
                            yield 'PUT', key, _decode(kv)[0], prev, revision
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise Unavailable('etcd watch broke: %s' % exc.__class__.__name__) from None
        raise Unavailable('etcd watch ended')


async def _lines(stream):
    """Newline-separated messages of any size (CRDs with big schemas exceed aiohttp's line limit)."""
    buffer = b''
    async for chunk in stream.iter_any():
        buffer += chunk
        while b'\n' in buffer:
            line, buffer = buffer.split(b'\n', 1)
            if line.strip():
                yield line
