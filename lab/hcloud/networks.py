"""Networks with subnets and routes."""
import ipaddress

from .routes import route
from .store import ApiError, check_labels, invalid_input, not_found

ZONES = ('eu-central', 'us-east', 'us-west', 'ap-southeast')


def _network(value, field):
    try:
        return ipaddress.ip_network(value, strict=True)
    except (TypeError, ValueError):
        raise invalid_input(field, '%r is not a valid IP range' % (value,))


def _subnet(network, entry):
    if entry.get('type') not in ('cloud', 'server', 'vswitch'):
        raise invalid_input('type', 'must be cloud, server or vswitch')
    if entry.get('network_zone') not in ZONES:
        raise invalid_input('network_zone', 'unknown network zone %r' % entry.get('network_zone'))
    whole = ipaddress.ip_network(network['ip_range'])
    if entry.get('ip_range'):
        subnet = _network(entry['ip_range'], 'ip_range')
    else:
        # The API picks the first free /24 when no range is given.
        taken = [ipaddress.ip_network(s['ip_range']) for s in network['subnets']]
        subnet = next((c for c in whole.subnets(new_prefix=max(24, whole.prefixlen))
                       if not any(c.overlaps(t) for t in taken)), None)
        if subnet is None:
            raise ApiError(422, 'ip_range_exhausted', 'no free IP range left in the network')
    if not subnet.subnet_of(whole):
        raise invalid_input('ip_range', 'subnet %s is not inside the network %s' % (subnet, whole))
    if any(subnet.overlaps(ipaddress.ip_network(s['ip_range'])) for s in network['subnets']):
        raise ApiError(422, 'conflict', 'subnet %s overlaps an existing subnet' % subnet)
    return {'type': entry['type'], 'ip_range': str(subnet), 'network_zone': entry['network_zone'],
            'gateway': str(next(whole.hosts())), 'vswitch_id': entry.get('vswitch_id')}


def _route(network, entry):
    destination = _network(entry.get('destination'), 'destination')
    gateway = entry.get('gateway')
    try:
        if ipaddress.ip_address(gateway) not in ipaddress.ip_network(network['ip_range']):
            raise invalid_input('gateway', 'gateway must be inside the network')
    except ValueError:
        raise invalid_input('gateway', 'not an IP address')
    return {'destination': str(destination), 'gateway': gateway}


def render(store, network):
    subnets = []
    for subnet in network['subnets']:
        item = dict(subnet)
        if item['type'] != 'vswitch':
            item.pop('vswitch_id', None)
        subnets.append(item)
    return {'id': network['id'], 'name': network['name'], 'ip_range': network['ip_range'],
            'labels': dict(network['labels']), 'created': network['created'], 'subnets': subnets,
            'routes': [dict(r) for r in network['routes']], 'protection': {'delete': False},
            'expose_routes_to_vswitch': network['expose_routes_to_vswitch'], 'load_balancers': [],
            'servers': [s['id'] for s in store.servers.values()
                        if any(e['network'] == network['id'] for e in s['private_net'])]}


def get_network(store, nid):
    network = store.networks.get(nid)
    if network is None:
        raise not_found('network', nid)
    return network


def create_network(store, body):
    name = body.get('name')
    if not isinstance(name, str) or not name:
        raise invalid_input('name', 'is required')
    if any(n['name'] == name for n in store.networks.values()):
        raise ApiError(409, 'uniqueness_error', 'network name is already used', {'fields': [{'name': 'name'}]})
    whole = _network(body.get('ip_range'), 'ip_range')
    if not whole.is_private or whole.prefixlen > 24:
        raise invalid_input('ip_range', 'must be a private range of at least /24')
    network = {'id': store.new_id(), 'name': name, 'ip_range': str(whole), 'labels': check_labels(body.get('labels')),
               'created': store.now(), 'subnets': [], 'routes': [],
               'expose_routes_to_vswitch': bool(body.get('expose_routes_to_vswitch', False))}
    for entry in body.get('subnets') or []:
        network['subnets'].append(_subnet(network, entry))
    for entry in body.get('routes') or []:
        network['routes'].append(_route(network, entry))
    store.networks[network['id']] = network
    return network


@route('GET', '/networks')
def list_networks(store, req):
    return store.listing(req, 'networks', list(store.networks.values()), render=lambda n: render(store, n))


@route('POST', '/networks')
def post_network(store, req):
    return 201, {'network': render(store, create_network(store, req.body))}


@route('GET', '/networks/{id}')
def get_one(store, req):
    return 200, {'network': render(store, get_network(store, req.args['id']))}


@route('PUT', '/networks/{id}')
def put_network(store, req):
    network = get_network(store, req.args['id'])
    if 'name' in req.body:
        network['name'] = req.body['name']
    if 'labels' in req.body:
        network['labels'] = check_labels(req.body['labels'])
    if 'expose_routes_to_vswitch' in req.body:
        network['expose_routes_to_vswitch'] = bool(req.body['expose_routes_to_vswitch'])
    return 200, {'network': render(store, network)}


@route('DELETE', '/networks/{id}')
def delete_network(store, req):
    network = get_network(store, req.args['id'])
    if any(e['network'] == network['id'] for s in store.servers.values() for e in s['private_net']):
        raise ApiError(422, 'resource_in_use', 'network still has servers attached')
    del store.networks[network['id']]
    return 204, None


def _network_action(command):
    def decorate(fn):
        def handler(store, req):
            network = get_network(store, req.args['id'])
            fn(network, req.body)
            return 201, {'action': store.action(command, [('network', network['id'])])}
        handler.__name__ = fn.__name__
        return handler
    return decorate


@route('POST', '/networks/{id}/actions/add_subnet')
@_network_action('add_subnet')
def add_subnet(network, body):
    network['subnets'].append(_subnet(network, body))


@route('POST', '/networks/{id}/actions/delete_subnet')
@_network_action('delete_subnet')
def delete_subnet(network, body):
    before = len(network['subnets'])
    network['subnets'] = [s for s in network['subnets'] if s['ip_range'] != body.get('ip_range')]
    if len(network['subnets']) == before:
        raise invalid_input('ip_range', 'no subnet %r in this network' % body.get('ip_range'))


@route('POST', '/networks/{id}/actions/add_route')
@_network_action('add_route')
def add_route(network, body):
    network['routes'].append(_route(network, body))


@route('POST', '/networks/{id}/actions/delete_route')
@_network_action('delete_route')
def delete_route(network, body):
    before = len(network['routes'])
    network['routes'] = [r for r in network['routes']
                         if (r['destination'], r['gateway']) != (body.get('destination'), body.get('gateway'))]
    if len(network['routes']) == before:
        raise invalid_input('destination', 'no such route in this network')
