"""A small async Kubernetes API client for what runs on the lab's nodes (the kubelet stand-in, Talos'
manifest application, container hooks): client-certificate TLS against the cluster CA, JSON, watches,
and failover across the control planes' API servers in the way KubePrism balances a node's requests.
"""
import asyncio
import json
import ssl

import aiohttp

TIMEOUT = 5.0


class ApiUnreachable(Exception):
    """No API server answered."""


class ApiStatus(Exception):
    """The API answered with an error Status."""

    def __init__(self, code, body):
        super().__init__('%s: %s' % (code, (body or {}).get('message')))
        self.code, self.body = code, body or {}

    @property
    def reason(self):
        return self.body.get('reason')


class Client:
    def __init__(self, servers, ca_pem, cert_path, key_path, user_agent='lab-kubelet/v1.32'):
        """``servers``: a callable returning ``['https://ip:6443', ...]`` (read on every failover)."""
        self.servers = servers
        self.context = ssl.create_default_context(cadata=ca_pem.decode('ascii'))
        self.context.check_hostname = False  # the lab reaches the API by address; the CA is pinned
        self.context.load_cert_chain(cert_path, key_path)
        self.user_agent = user_agent
        self.session = None
        self.current = None
        self.resources = {}  # (apiVersion, kind) -> (plural, namespaced)

    async def start(self):
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.context, limit=8),
                                             headers={'User-Agent': self.user_agent})

    async def close(self):
        if self.session is not None:
            await self.session.close()
            self.session = None

    def _candidates(self):
        servers = list(self.servers())
        if self.current in servers:
            servers.remove(self.current)
            servers.insert(0, self.current)
        return servers

    async def request(self, method, path, body=None, content_type='application/json', params=None, timeout=TIMEOUT):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        last = None
        for server in self._candidates():
            try:
                async with self.session.request(method, server + path, data=data, params=params,
                                                headers={'Content-Type': content_type, 'Accept': 'application/json'},
                                                timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                    text = await response.read()
                    self.current = server
                    try:
                        payload = json.loads(text) if text else {}
                    except ValueError:
                        payload = {'message': text.decode(errors='replace')}
                    if response.status >= 500 and response.status != 500:
                        last = ApiStatus(response.status, payload)
                        continue
                    if response.status >= 400:
                        raise ApiStatus(response.status, payload)
                    return payload
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                last = exc
                if self.current == server:
                    self.current = None
        if isinstance(last, ApiStatus):
            raise last
        raise ApiUnreachable('no API server answered (%s)' % last)

    async def watch(self, path, params):
        """Yield (type, object) until the stream ends; raise ApiUnreachable when no server takes it."""
        params = dict(params, watch='true')
        for server in self._candidates():
            try:
                async with self.session.get(server + path, params=params,
                                            timeout=aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT, sock_read=60)) as response:
                    if response.status != 200:
                        raise ApiStatus(response.status, await response.json(content_type=None))
                    self.current = server
                    buffer = b''
                    async for chunk in response.content.iter_any():
                        buffer += chunk
                        while b'\n' in buffer:
                            line, buffer = buffer.split(b'\n', 1)
                            if line.strip():
                                event = json.loads(line)
                                yield event.get('type'), event.get('object')
                    return
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                continue
        raise ApiUnreachable('no API server took the watch')

    # ------------------------------------------------------------------ resource paths

    async def _discover(self):
        found = {}
        core = await self.request('GET', '/api/v1')
        lists = [core]
        groups = await self.request('GET', '/apis')
        for group in groups.get('groups') or ():
            lists.append(await self.request('GET', '/apis/' + group['preferredVersion']['groupVersion']))
        for listing in lists:
            for entry in listing.get('resources') or ():
                if '/' not in entry['name']:
                    found[(listing['groupVersion'], entry['kind'])] = (entry['name'], entry['namespaced'])
        self.resources = found

    async def resource(self, api_version, kind):
        """(plural, namespaced) of a kind, from discovery (refreshed once on a miss); None when unknown."""
        if (api_version, kind) not in self.resources:
            await self._discover()
        return self.resources.get((api_version, kind))

    @staticmethod
    def path(api_version, plural, namespace=None, name=None, subresource=None):
        base = '/api/%s' % api_version if '/' not in api_version else '/apis/%s' % api_version
        if namespace:
            base += '/namespaces/%s' % namespace
        base += '/' + plural
        if name:
            base += '/' + name
        if subresource:
            base += '/' + subresource
        return base
