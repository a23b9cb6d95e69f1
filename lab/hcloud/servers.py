"""Servers: create, get, list, update, delete, power actions, networks and placement groups.

A server keeps the ``user_data`` it was created with (at most 32 KiB, as the API documents): the API
never shows it again, but the lab's machines read it as Talos reads it from the metadata service.
"""
import ipaddress
import secrets

from . import firewalls as fw, misc, primary_ips
from .routes import route
from .store import ApiError, check_labels, check_name, invalid_input, not_found

POWER = {
    # command: (status while running, status after success)
    'poweron': ('start_server', 'starting', 'running'),
    'poweroff': ('stop_server', 'stopping', 'off'),
    'shutdown': ('shutdown_server', 'stopping', 'off'),
    'reboot': ('reboot_server', 'running', 'running'),
    'reset': ('reset_server', 'running', 'running'),
}
SPREAD_LIMIT = 10
USER_DATA_LIMIT = 32 * 1024


def find_by_name_or_id(items, value, field):
    for item in items:
        if (isinstance(value, int) and item['id'] == value) or item.get('name') == value or str(item['id']) == str(value):
            return item
    raise invalid_input(field, '%s %r not found' % (field.replace('_', ' '), value))


def get_server(store, sid):
    server = store.servers.get(sid)
    if server is None:
        raise not_found('server', sid)
    return server


def render(store, server):
    pg = store.placement_groups.get(server['placement_group'])
    return {
        'id': server['id'], 'name': server['name'], 'status': server['status'], 'created': server['created'],
        'labels': dict(server['labels']), 'locked': False, 'rescue_enabled': False, 'backup_window': None,
        'protection': {'delete': False, 'rebuild': False}, 'primary_disk_size': int(server['server_type']['disk']),
        'included_traffic': 21990232555520, 'ingoing_traffic': 0, 'outgoing_traffic': 0, 'iso': None,
        'server_type': server['server_type'], 'image': server['image'], 'datacenter': server['datacenter'],
        'location': server['datacenter']['location'], 'load_balancers': [], 'volumes': [],
        'placement_group': misc.render_pg(store, pg) if pg else None,
        'public_net': {
            'ipv4': {'id': server['ipv4_id'], 'ip': server['ipv4'], 'blocked': False,
                     'dns_ptr': 'static.%s.clients.your-server.de' % '.'.join(reversed(server['ipv4'].split('.')))}
            if server['ipv4'] else None,
            'ipv6': {'id': 90000000 + server['id'], 'ip': server['ipv6'], 'blocked': False, 'dns_ptr': []}
            if server['ipv6'] else None,
            'floating_ips': [],
            'firewalls': [{'id': fid, 'status': 'applied'} for fid in fw.firewalls_of(store, server)],
        },
        'private_net': [dict(entry) for entry in server['private_net']],
    }


def attach(store, server, network, ip=None, alias_ips=()):
    """Give the server an address in the network's first cloud subnet (or ``ip``)."""
    if any(entry['network'] == network['id'] for entry in server['private_net']):
        raise ApiError(422, 'server_already_attached', 'server is already attached to this network')
    subnets = [s for s in network['subnets'] if s['type'] in ('cloud', 'server')]
    if not subnets:
        raise ApiError(422, 'no_subnet_available', 'network has no subnet this server can be attached to')
    used = {entry['ip'] for other in store.servers.values() for entry in other['private_net']
            if entry['network'] == network['id']}
    subnet = ipaddress.ip_network(subnets[0]['ip_range'])
    if ip is not None:
        if ipaddress.ip_address(ip) not in subnet or ip in used:
            raise ApiError(422, 'ip_not_available', 'the IP %s is not available in this network' % ip)
    else:
        gateway = subnets[0]['gateway']
        ip = next((str(h) for h in subnet.hosts() if str(h) not in used and str(h) != gateway), None)
        if ip is None:
            raise ApiError(422, 'ip_not_available', 'no free IP left in the network')
    server['private_net'].append({'network': network['id'], 'ip': ip, 'alias_ips': list(alias_ips),
                                  'mac_address': '86:00:00:%02x:%02x:%02x' % (server['id'] >> 16 & 255,
                                                                              server['id'] >> 8 & 255,
                                                                              server['id'] & 255)})


def _placement(store, pgid, exclude=None):
    pg = store.placement_groups.get(pgid)
    if pg is None:
        raise invalid_input('placement_group', 'placement group %s not found' % pgid)
    members = [s for s in store.servers.values() if s['placement_group'] == pgid and s is not exclude]
    if len(members) >= SPREAD_LIMIT:
        raise ApiError(412, 'placement_error', 'spread placement groups hold at most %d servers' % SPREAD_LIMIT)
    return pg


def create_server(store, body, start=True):
    """Create a server from a POST /servers body; returns ``(server, action, next_actions, root_password)``."""
    name = check_name(body.get('name'))
    if any(s['name'] == name for s in store.servers.values()):
        raise ApiError(409, 'uniqueness_error', 'server name is already used', {'fields': [{'name': 'name'}]})
    if body.get('server_type') is None:
        raise invalid_input('server_type', 'is required')
    if body.get('image') is None:
        raise invalid_input('image', 'is required')
    stype = find_by_name_or_id(store.catalog['server_types'], body['server_type'], 'server_type')
    where = body.get('location') or None
    datacenters = store.catalog['datacenters']
    if body.get('datacenter'):
        datacenter = find_by_name_or_id(datacenters, body['datacenter'], 'datacenter')
    else:
        loc = find_by_name_or_id(store.catalog['locations'], where or 'fsn1', 'location')
        datacenter = next(dc for dc in datacenters if dc['location']['id'] == loc['id'])
    if stype['id'] not in datacenter['server_types']['available']:
        raise ApiError(412, 'resource_unavailable', 'server type %s is not available in %s'
                       % (stype['name'], datacenter['location']['name']))
    images = [i for i in store.catalog['images'] if i['architecture'] == stype['architecture']]
    image = find_by_name_or_id(images, body['image'], 'image')
    labels = check_labels(body.get('labels'))
    keys = [find_by_name_or_id(list(store.ssh_keys.values()), key, 'ssh_keys') for key in body.get('ssh_keys') or []]
    networks = []
    for nid in body.get('networks') or []:
        if nid not in store.networks:
            raise invalid_input('networks', 'network %s not found' % nid)
        networks.append(store.networks[nid])
    firewall_ids = []
    for entry in body.get('firewalls') or []:
        fid = entry.get('firewall') if isinstance(entry, dict) else None
        if fid not in store.firewalls:
            raise invalid_input('firewalls', 'firewall %s not found' % fid)
        firewall_ids.append(fid)
    if body.get('placement_group') is not None:
        _placement(store, body['placement_group'])
    user_data = body.get('user_data')
    if user_data is not None and not isinstance(user_data, str):
        raise invalid_input('user_data', 'must be a string')
    if user_data is not None and len(user_data.encode('utf-8')) > USER_DATA_LIMIT:
        raise invalid_input('user_data', 'is limited to 32 KiB (%d bytes given)' % len(user_data.encode('utf-8')))
    public = body.get('public_net') or {}
    if public.get('ipv4') is not None and not public.get('enable_ipv4', True):
        raise invalid_input('public_net', 'ipv4 is given but enable_ipv4 is false')
    sid = store.new_id()
    server = {'id': sid, 'name': name, 'status': 'initializing', 'created': store.now(), 'labels': labels,
              'server_type': stype, 'image': image, 'datacenter': datacenter, 'ipv4': None, 'ipv4_id': None,
              'ipv6': ('2001:db8:%x::/64' % (sid & 0xffff)) if public.get('enable_ipv6', True) else None,
              'private_net': [], 'placement_group': body.get('placement_group'), 'ssh_keys': [k['id'] for k in keys],
              'user_data': user_data}
    if public.get('enable_ipv4', True):
        primary_ips.take_for_server(store, server, public.get('ipv4'))
    store.servers[sid] = server
    for network in networks:
        attach(store, server, network)
    for fid in firewall_ids:
        store.firewalls[fid]['applied_to'].append({'type': 'server', 'server': {'id': sid}})
    start = body.get('start_after_create', True) if start else False

    def created():
        if server['status'] == 'initializing':
            server['status'] = 'starting' if start else 'off'

    def failed():
        server['status'] = 'off'
    action = store.action('create_server', [('server', sid)], created, failed)
    next_actions = []
    if start:
        def started():
            server['status'] = 'running'
        next_actions.append(store.action('start_server', [('server', sid)], started))
    password = None if keys else secrets.token_urlsafe(12)
    return server, action, next_actions, password


def delete_server(store, server):
    sid = server['id']
    primary_ips.release_for(store, server)
    del store.servers[sid]
    for firewall in store.firewalls.values():
        firewall['applied_to'] = [a for a in firewall['applied_to']
                                  if not (a['type'] == 'server' and a['server']['id'] == sid)]
    return store.action('delete_server', [('server', sid)])


@route('GET', '/servers')
def list_servers(store, req):
    return store.listing(req, 'servers', list(store.servers.values()), {'status': req.all('status')},
                         lambda s: render(store, s))


@route('POST', '/servers')
def post_server(store, req):
    server, action, next_actions, password = create_server(store, req.body)
    return 201, {'server': render(store, server), 'action': action, 'next_actions': next_actions,
                 'root_password': password}


@route('GET', '/servers/{id}')
def get_one(store, req):
    return 200, {'server': render(store, get_server(store, req.args['id']))}


@route('PUT', '/servers/{id}')
def put_server(store, req):
    server = get_server(store, req.args['id'])
    if 'name' in req.body:
        name = check_name(req.body['name'])
        if any(s['name'] == name and s is not server for s in store.servers.values()):
            raise ApiError(409, 'uniqueness_error', 'server name is already used', {'fields': [{'name': 'name'}]})
        server['name'] = name
    if 'labels' in req.body:
        server['labels'] = check_labels(req.body['labels'])
    return 200, {'server': render(store, server)}


@route('DELETE', '/servers/{id}')
def del_server(store, req):
    return 200, {'action': delete_server(store, get_server(store, req.args['id']))}


def _power(kind):
    command, during, after = POWER[kind]

    def handler(store, req):
        server = get_server(store, req.args['id'])
        before = server['status']
        if during != 'running':
            server['status'] = during

        def done():
            if server['id'] in store.servers:
                server['status'] = after

        def failed():
            if server['id'] in store.servers:
                server['status'] = before
        return 201, {'action': store.action(command, [('server', server['id'])], done, failed)}
    handler.__name__ = 'power_' + kind
    return handler


for _kind in POWER:
    route('POST', '/servers/{id}/actions/' + _kind)(_power(_kind))


@route('POST', '/servers/{id}/actions/attach_to_network')
def attach_to_network(store, req):
    server = get_server(store, req.args['id'])
    nid = req.body.get('network')
    if nid not in store.networks:
        raise invalid_input('network', 'network %s not found' % nid)
    attach(store, server, store.networks[nid], req.body.get('ip'), req.body.get('alias_ips') or ())
    return 201, {'action': store.action('attach_to_network', [('server', server['id']), ('network', nid)])}


@route('POST', '/servers/{id}/actions/detach_from_network')
def detach_from_network(store, req):
    server = get_server(store, req.args['id'])
    nid = req.body.get('network')
    if not any(e['network'] == nid for e in server['private_net']):
        raise ApiError(422, 'server_not_attached', 'server is not attached to network %s' % nid)
    server['private_net'] = [e for e in server['private_net'] if e['network'] != nid]
    return 201, {'action': store.action('detach_from_network', [('server', server['id']), ('network', nid)])}


@route('POST', '/servers/{id}/actions/add_to_placement_group')
def add_to_placement_group(store, req):
    server = get_server(store, req.args['id'])
    if server['placement_group'] is not None:
        raise ApiError(422, 'server_already_added', 'server is already in a placement group')
    pg = _placement(store, req.body.get('placement_group'), exclude=server)
    server['placement_group'] = pg['id']
    return 201, {'action': store.action('add_to_placement_group', [('server', server['id']),
                                                                   ('placement_group', pg['id'])])}


@route('POST', '/servers/{id}/actions/remove_from_placement_group')
def remove_from_placement_group(store, req):
    server = get_server(store, req.args['id'])
    if server['placement_group'] is None:
        raise ApiError(422, 'server_not_in_placement_group', 'server is not in a placement group')
    pgid, server['placement_group'] = server['placement_group'], None
    return 201, {'action': store.action('remove_from_placement_group', [('server', server['id']),
                                                                        ('placement_group', pgid)])}
