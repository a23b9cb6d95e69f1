"""Primary IPs: the public IPv4 addresses of servers as resources of their own.

Every server's public IPv4 is a Primary IP. Created with the server it is named ``primary_ip-<id>``
and deleted with it (``auto_delete``); created on its own (``POST /primary_ips``) it outlives the
server it is assigned to, so an address can be known, and put into DNS or a machine config, before
the server exists. Assigning and unassigning need the server to be off, as in the real API.
(IPv6 networks stay plain server fields here: nothing the lab drives asks for IPv6 Primary IPs.)
"""
from . import servers as _servers  # a module reference: servers imports this module too
from .routes import route
from .store import ApiError, check_labels, check_name, invalid_input, not_found


def render(store, pip):
    datacenter = pip['datacenter']
    return {'id': pip['id'], 'name': pip['name'], 'ip': pip['ip'], 'type': 'ipv4', 'labels': dict(pip['labels']),
            'created': pip['created'], 'blocked': False, 'auto_delete': pip['auto_delete'],
            'assignee_id': pip['assignee_id'], 'assignee_type': 'server',
            'dns_ptr': [{'ip': pip['ip'], 'dns_ptr': 'static.%s.clients.your-server.de' % '.'.join(reversed(pip['ip'].split('.')))}],
            'datacenter': datacenter, 'location': datacenter['location'], 'protection': {'delete': pip['protected']}}


def new(store, name, datacenter, labels=None, auto_delete=False, assignee=None):
    """Allocate an address and record it; ``assignee`` is the server dict it belongs to, if any."""
    ip, _serial = store.public_ipv4()
    pid = store.new_id()
    pip = {'id': pid, 'name': name or 'primary_ip-%d' % pid, 'ip': ip, 'labels': dict(labels or {}),
           'created': store.now(), 'auto_delete': bool(auto_delete), 'assignee_id': None, 'datacenter': datacenter,
           'protected': False}
    store.primary_ips[pid] = pip
    if assignee is not None:
        _assign(pip, assignee)
    return pip


def _assign(pip, server):
    pip['assignee_id'] = server['id']
    server['ipv4'], server['ipv4_id'] = pip['ip'], pip['id']


def _unassign(store, pip):
    server = store.servers.get(pip['assignee_id'])
    if server is not None:
        server['ipv4'], server['ipv4_id'] = None, None
    pip['assignee_id'] = None


def take_for_server(store, server, wanted):
    """Create-time: the server gets Primary IP ``wanted`` (an id), or a new one that goes with it."""
    if wanted is None:
        return new(store, None, server['datacenter'], auto_delete=True, assignee=server)
    pip = store.primary_ips.get(wanted)
    if pip is None:
        raise invalid_input('public_net', 'primary ip %s not found' % wanted)
    if pip['assignee_id'] is not None:
        raise ApiError(422, 'primary_ip_assigned', 'the primary ip is already assigned to a server')
    if pip['datacenter']['location']['id'] != server['datacenter']['location']['id']:
        raise ApiError(422, 'primary_ip_location_mismatch', 'the primary ip is in another location than the server')
    _assign(pip, server)
    return pip


def release_for(store, server):
    """Server deleted: its Primary IP goes with it when ``auto_delete``, else stays, unassigned."""
    pip = store.primary_ips.get(server.get('ipv4_id'))
    if pip is None:
        return
    if pip['auto_delete']:
        del store.primary_ips[pip['id']]
    else:
        pip['assignee_id'] = None


def _get(store, pid):
    pip = store.primary_ips.get(pid)
    if pip is None:
        raise not_found('primary ip', pid)
    return pip


@route('GET', '/primary_ips')
def list_primary_ips(store, req):
    return store.listing(req, 'primary_ips', list(store.primary_ips.values()), {'ip': req.all('ip')},
                         lambda p: render(store, p))


@route('POST', '/primary_ips')
def post_primary_ip(store, req):
    body = req.body
    name = check_name(body.get('name'))
    if body.get('type') != 'ipv4':
        raise invalid_input('type', "only 'ipv4' Primary IPs are simulated")
    if body.get('assignee_type', 'server') != 'server':
        raise invalid_input('assignee_type', "must be 'server'")
    if any(p['name'] == name for p in store.primary_ips.values()):
        raise ApiError(409, 'uniqueness_error', 'primary ip name is already used', {'fields': [{'name': 'name'}]})
    labels = check_labels(body.get('labels'))
    places = [key for key in ('assignee_id', 'datacenter', 'location') if body.get(key) is not None]
    if len(places) != 1:
        raise invalid_input('location', 'give exactly one of assignee_id, datacenter and location')
    server = None
    if body.get('assignee_id') is not None:
        server = _servers.get_server(store, body['assignee_id'])
        if server['status'] != 'off':
            raise ApiError(422, 'server_not_stopped', 'the server is running, but needs to be powered off')
        if server['ipv4_id'] is not None:
            raise ApiError(422, 'server_has_ipv4', 'the server already has an ipv4 address')
        datacenter = server['datacenter']
    elif body.get('datacenter') is not None:
        datacenter = _servers.find_by_name_or_id(store.catalog['datacenters'], body['datacenter'], 'datacenter')
    else:
        location = _servers.find_by_name_or_id(store.catalog['locations'], body['location'], 'location')
        datacenter = next(dc for dc in store.catalog['datacenters'] if dc['location']['id'] == location['id'])
    pip = new(store, name, datacenter, labels, body.get('auto_delete', False), server)
    if server is not None:
        action = store.action('assign_primary_ip', [('primary_ip', pip['id']), ('server', server['id'])])
    else:
        action = store.action('create_primary_ip', [('primary_ip', pip['id'])])
    return 201, {'primary_ip': render(store, pip), 'action': action}


@route('GET', '/primary_ips/{id}')
def get_primary_ip(store, req):
    return 200, {'primary_ip': render(store, _get(store, req.args['id']))}


@route('PUT', '/primary_ips/{id}')
def put_primary_ip(store, req):
    pip = _get(store, req.args['id'])
    if 'name' in req.body:
        name = check_name(req.body['name'])
        if any(p['name'] == name and p is not pip for p in store.primary_ips.values()):
            raise ApiError(409, 'uniqueness_error', 'primary ip name is already used', {'fields': [{'name': 'name'}]})
        pip['name'] = name
    if 'labels' in req.body:
        pip['labels'] = check_labels(req.body['labels'])
    if 'auto_delete' in req.body:
        pip['auto_delete'] = bool(req.body['auto_delete'])
    return 200, {'primary_ip': render(store, pip)}


@route('DELETE', '/primary_ips/{id}')
def delete_primary_ip(store, req):
    pip = _get(store, req.args['id'])
    if pip['protected']:
        raise ApiError(423, 'protected', 'the primary ip is protected against deletion')
    if pip['assignee_id'] is not None:
        raise ApiError(422, 'must_be_unassigned', 'the primary ip must be unassigned before it can be deleted')
    del store.primary_ips[pip['id']]
    return 204, None


@route('POST', '/primary_ips/{id}/actions/assign')
def assign(store, req):
    pip = _get(store, req.args['id'])
    if req.body.get('assignee_type', 'server') != 'server':
        raise invalid_input('assignee_type', "must be 'server'")
    server = _servers.get_server(store, req.body.get('assignee_id'))
    if pip['assignee_id'] is not None:
        raise ApiError(422, 'primary_ip_assigned', 'the primary ip is already assigned to a server')
    if server['status'] != 'off':
        raise ApiError(422, 'server_not_stopped', 'the server is running, but needs to be powered off')
    if server['ipv4_id'] is not None:
        raise ApiError(422, 'server_has_ipv4', 'the server already has an ipv4 address')
    _assign(pip, server)
    return 201, {'action': store.action('assign_primary_ip', [('primary_ip', pip['id']), ('server', server['id'])])}


@route('POST', '/primary_ips/{id}/actions/unassign')
def unassign(store, req):
    pip = _get(store, req.args['id'])
    server = store.servers.get(pip['assignee_id'])
    if server is None:
        raise ApiError(422, 'not_assigned', 'the primary ip is not assigned')
    if server['status'] != 'off':
        raise ApiError(422, 'server_not_stopped', 'the server is running, but needs to be powered off')
    _unassign(store, pip)
    return 201, {'action': store.action('unassign_primary_ip', [('primary_ip', pip['id']), ('server', server['id'])])}


@route('POST', '/primary_ips/{id}/actions/change_protection')
def change_protection(store, req):
    pip = _get(store, req.args['id'])
    if 'delete' in req.body:
        pip['protected'] = bool(req.body['delete'])
    return 201, {'action': store.action('change_protection', [('primary_ip', pip['id'])])}
