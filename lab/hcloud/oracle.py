"""Check requests and responses against the published Hetzner Cloud OpenAPI description.

Test-only: the description lives outside the repository (``../shared/oracles/hcloud/hcloud.openapi.json``,
see its README) and is read, never copied; without it the check cannot be switched on (``OracleMissing``)
and the stand-in serves as usual. ``openapi-core`` needs two rewrites, done here in memory
at load time: the response keys ``4xx``/``5xx`` become ``4XX``/``5XX``, and OpenAPI 3.0's
``nullable: true`` becomes the 3.1 form (``anyOf: [..., {type: 'null'}]``), without which a real
``"error": null`` in an action is rejected. A third rewrite follows the description's own words:
fields documented as "ID or name" accept an integer ID as well as a name, as the real API does
and as the ``hcloud`` library sends them. A fourth one too: creating a Primary IP documents
``location``, ``datacenter`` and ``assignee_id``/``assignee_type`` as mutually exclusive, yet lists
``assignee_type`` as required; it is required only with ``assignee_id``, and the ``hcloud`` library
sends it only then.
"""
import json
import urllib.parse

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from . import OPENAPI_SPEC as SPEC, OracleMissing, openapi_missing

HOST_URL = 'https://api.hetzner.cloud'


def _nullable(node):
    """Rewrite ``nullable: true`` (3.0) into ``anyOf [schema, {type: null}]`` (3.1), recursively."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict((key, _nullable(value)) for key, value in node.items())
    if node.pop('nullable', False):
        # default/example may be null: they belong to the union, not to the non-null branch.
        outer = dict((key, node.pop(key)) for key in ('default', 'example', 'description') if key in node)
        outer['anyOf'] = [node, {'type': 'null'}]
        return outer
    node.pop('nullable', None)
    return node


def _id_or_name(node):
    """Fields documented as "ID or name" are typed string only; the API (and its clients) send integer IDs too."""
    if isinstance(node, list):
        return [_id_or_name(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict((key, _id_or_name(value)) for key, value in node.items())
    description = str(node.get('description', ''))
    if node.get('type') == 'string' and description.startswith('ID or name'):
        return {'description': description, 'anyOf': [{'type': 'string'}, {'type': 'integer'}]}
    if node.get('type') == 'array' and 'IDs (`integer`) or names' in description:
        node['items'] = {'anyOf': [{'type': 'string'}, {'type': 'integer'}]}
    return node


def _primary_ip_location(spec):
    """``assignee_type`` goes with ``assignee_id`` only, as the request's own description says (module docstring)."""
    schema = spec.get('components', {}).get('schemas', {}).get('create_primary_ip_request')
    if schema and 'assignee_type' in schema.get('required', ()):
        schema['required'] = [name for name in schema['required'] if name != 'assignee_type']
    return spec


def preprocess(spec):
    """The description in the form openapi-core validates correctly (see the module docstring)."""
    spec = _nullable(_id_or_name(_primary_ip_location(spec)))
    spec['openapi'] = '3.1.0'
    for item in spec['paths'].values():
        for operation in item.values():
            if isinstance(operation, dict) and 'responses' in operation:
                operation['responses'] = dict((key.upper() if key in ('4xx', '5xx') else key, value)
                                              for key, value in operation['responses'].items())
    return spec


def load(path=SPEC):
    with open(path, encoding='utf-8') as handle:
        return OpenAPI.from_dict(preprocess(json.load(handle)))


class _Request(object):
    def __init__(self, method, path, query, headers, body):
        self.host_url = HOST_URL
        self.path = path
        self.method = method.lower()
        self.body = body or None
        self.content_type = headers.get('Content-Type') or 'application/json'
        self.parameters = RequestParameters(query=ImmutableMultiDict(query), header=Headers(headers),
                                            cookie=ImmutableMultiDict(), path={})


class _Response(object):
    def __init__(self, status, data, headers):
        self.status_code = status
        self.data = data
        self.headers = Headers(headers)
        self.content_type = 'application/json'


def _describe(exc):
    """One line: the error type and the schema messages, without the whole offending value."""
    cause = exc.__cause__ or exc.__context__
    for source in (exc, cause):
        details = getattr(source, 'schema_errors', None) or getattr(source, 'errors', None)
        if details:
            return '%s: %s' % (type(exc).__name__, '; '.join(str(getattr(d, 'message', d))[:300] for d in details))
    return '%s: %s' % (type(exc).__name__, str(cause or exc)[:600])


class Oracle(object):
    def __init__(self, path=SPEC):
        missing = openapi_missing() if path == SPEC else None
        if missing:
            raise OracleMissing(missing)
        self.api = load(path)

    def check(self, method, path, query, headers, body, status, data, response_headers):
        """Return ``[(kind, message)]`` for every way the exchange departs from the description."""
        request = _Request(method, path, urllib.parse.parse_qsl(query, keep_blank_values=True), headers, body)
        found = []
        try:
            self.api.validate_request(request)
        except OpenAPIError as exc:
            found.append(('request', _describe(exc)))
        try:
            self.api.validate_response(request, _Response(status, data, response_headers))
        except OpenAPIError as exc:
            found.append(('response', _describe(exc)))
        return found


_SHARED = []


def shared():
    """One Oracle per process: loading the description takes seconds, checking takes milliseconds."""
    if not _SHARED:
        _SHARED.append(Oracle())
    return _SHARED[0]
