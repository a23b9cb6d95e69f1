"""Volumes of the Hetzner stand-in: list, create, read, delete (attach, resize and the actions are not modelled).

Hetzner's rules that matter to the CSI driver and to hybridops.talos.hcloud_csi: a name and a size of at least
10 GB are required, and a location (or a server to take it from) that exists; an unknown location is
``invalid_input``. Like every write, ``POST /volumes`` with a read-only token is refused with ``token_readonly``
before the body is looked at (service.py), which is what the module's token check relies on.
"""
from . import catalog
from .routes import route
from .store import ApiError, check_labels, check_name, invalid_input, not_found

MIN_SIZE, MAX_SIZE = 10, 10240
LOCATIONS = {entry[1]: entry for entry in catalog.LOCATIONS}


def render(volume):
    return {'id': volume['id'], 'name': volume['name'], 'size': volume['size'], 'server': volume['server'],
            'location': catalog.location(LOCATIONS[volume['location']]), 'linux_device': '/dev/disk/by-id/scsi-0HC_Volume_%d'
            % volume['id'], 'protection': {'delete': False}, 'labels': dict(volume['labels']), 'status': volume['status'],
            'created': volume['created'], 'format': volume['format']}


def _volume(store, vid):
    volume = store.volumes.get(vid)
    if volume is None:
        raise not_found('volume', vid)
    return volume


@route('GET', '/volumes')
def list_volumes(store, req):
    return store.listing(req, 'volumes', list(store.volumes.values()), {'status': req.all('status')}, render)


@route('POST', '/volumes')
def post_volume(store, req):
    body = req.body
    name = body.get('name')
    if not isinstance(name, str) or not name:
        raise invalid_input('name', 'is required')
    check_name(name)
    size = body.get('size')
    if not isinstance(size, int) or isinstance(size, bool):
        raise invalid_input('size', 'is required')
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise invalid_input('size', 'must be between %d and %d' % (MIN_SIZE, MAX_SIZE))
    location = body.get('location')
    if location is None and body.get('server') is not None:
        server = store.servers.get(body['server'])
        if server is None:
            raise invalid_input('server', 'server not found')
        location = server['datacenter']['location']['name']
    if location is None:
        raise invalid_input('location', 'one of location or server is required')
    if location not in LOCATIONS:
        raise invalid_input('location', 'location not found')
    if any(v['name'] == name for v in store.volumes.values()):
        raise ApiError(409, 'uniqueness_error', 'volume name is already used', {'fields': [{'name': 'name'}]})
    volume = {'id': store.new_id(), 'name': name, 'size': size, 'server': None, 'location': location,
              'labels': check_labels(body.get('labels')), 'status': 'available', 'created': store.now(),
              'format': body.get('format')}
    store.volumes[volume['id']] = volume
    action = store.action('create_volume', [('volume', volume['id'])])
    return 201, {'volume': render(volume), 'action': action, 'next_actions': []}


@route('GET', '/volumes/{id}')
def get_volume(store, req):
    return 200, {'volume': render(_volume(store, req.args['id']))}


@route('DELETE', '/volumes/{id}')
def delete_volume(store, req):
    volume = _volume(store, req.args['id'])
    if volume['server'] is not None:
        raise ApiError(422, 'resource_in_use', 'volume is attached to a server')
    del store.volumes[volume['id']]
    return 204, None
