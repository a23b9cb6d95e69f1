"""Placement groups, SSH keys, the read-only catalog and the action endpoints."""
import base64
import binascii
import hashlib

from .routes import route
from .store import ApiError, check_labels, invalid_input, not_found

ACTION_SCOPES = ('servers', 'firewalls', 'networks', 'primary_ips')


# ------------------------------------------------------------------ placement groups

def render_pg(store, pg):
    return {'id': pg['id'], 'name': pg['name'], 'labels': dict(pg['labels']), 'type': pg['type'],
            'created': pg['created'],
            'servers': [s['id'] for s in store.servers.values() if s['placement_group'] == pg['id']]}


def _pg(store, pid):
    pg = store.placement_groups.get(pid)
    if pg is None:
        raise not_found('placement group', pid)
    return pg


@route('GET', '/placement_groups')
def list_pgs(store, req):
    return store.listing(req, 'placement_groups', list(store.placement_groups.values()), {'type': req.all('type')},
                         lambda p: render_pg(store, p))


@route('POST', '/placement_groups')
def post_pg(store, req):
    name = req.body.get('name')
    if not isinstance(name, str) or not name:
        raise invalid_input('name', 'is required')
    if req.body.get('type') != 'spread':
        raise invalid_input('type', "only 'spread' is supported")
    if any(p['name'] == name for p in store.placement_groups.values()):
        raise ApiError(409, 'uniqueness_error', 'placement group name is already used', {'fields': [{'name': 'name'}]})
    pg = {'id': store.new_id(), 'name': name, 'type': 'spread', 'labels': check_labels(req.body.get('labels')),
          'created': store.now()}
    store.placement_groups[pg['id']] = pg
    return 201, {'placement_group': render_pg(store, pg), 'action': None}


@route('GET', '/placement_groups/{id}')
def get_pg(store, req):
    return 200, {'placement_group': render_pg(store, _pg(store, req.args['id']))}


@route('PUT', '/placement_groups/{id}')
def put_pg(store, req):
    pg = _pg(store, req.args['id'])
    if 'name' in req.body:
        pg['name'] = req.body['name']
    if 'labels' in req.body:
        pg['labels'] = check_labels(req.body['labels'])
    return 200, {'placement_group': render_pg(store, pg)}


@route('DELETE', '/placement_groups/{id}')
def delete_pg(store, req):
    pg = _pg(store, req.args['id'])
    if any(s['placement_group'] == pg['id'] for s in store.servers.values()):
        raise ApiError(422, 'resource_in_use', 'placement group still has servers')
    del store.placement_groups[pg['id']]
    return 204, None


# ------------------------------------------------------------------------ ssh keys

def fingerprint(public_key):
    """The MD5 fingerprint the API shows (colon-separated hex of the key blob)."""
    parts = (public_key or '').split()
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (IndexError, binascii.Error):
        raise invalid_input('public_key', 'invalid public key')
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ':'.join(digest[i:i + 2] for i in range(0, 32, 2))


def render_key(key):
    return dict(key, labels=dict(key['labels']))


def _key(store, kid):
    key = store.ssh_keys.get(kid)
    if key is None:
        raise not_found('ssh key', kid)
    return key


@route('GET', '/ssh_keys')
def list_keys(store, req):
    return store.listing(req, 'ssh_keys', list(store.ssh_keys.values()), {'fingerprint': req.all('fingerprint')},
                         render_key)


@route('POST', '/ssh_keys')
def post_key(store, req):
    name, public_key = req.body.get('name'), req.body.get('public_key')
    if not isinstance(name, str) or not name:
        raise invalid_input('name', 'is required')
    fp = fingerprint(public_key)
    if any(k['name'] == name for k in store.ssh_keys.values()):
        raise ApiError(409, 'uniqueness_error', 'SSH key with the same name already exists', {'fields': [{'name': 'name'}]})
    if any(k['fingerprint'] == fp for k in store.ssh_keys.values()):
        raise ApiError(409, 'uniqueness_error', 'SSH key with the same fingerprint already exists',
                       {'fields': [{'name': 'public_key'}]})
    key = {'id': store.new_id(), 'name': name, 'public_key': public_key.strip(), 'fingerprint': fp,
           'labels': check_labels(req.body.get('labels')), 'created': store.now()}
    store.ssh_keys[key['id']] = key
    return 201, {'ssh_key': render_key(key)}


@route('GET', '/ssh_keys/{id}')
def get_key(store, req):
    return 200, {'ssh_key': render_key(_key(store, req.args['id']))}


@route('PUT', '/ssh_keys/{id}')
def put_key(store, req):
    key = _key(store, req.args['id'])
    if 'name' in req.body:
        key['name'] = req.body['name']
    if 'labels' in req.body:
        key['labels'] = check_labels(req.body['labels'])
    return 200, {'ssh_key': render_key(key)}


@route('DELETE', '/ssh_keys/{id}')
def delete_key(store, req):
    del store.ssh_keys[_key(store, req.args['id'])['id']]
    return 204, None


# ------------------------------------------------------------------------- catalog

def _catalog(collection, singular, filters=(), listing_route=True):
    def listing(store, req):
        items = store.catalog[collection]
        extra = dict((f, req.all(f)) for f in filters)
        return store.listing(req, collection, items, extra)

    def one(store, req):
        for item in store.catalog[collection]:
            if item['id'] == req.args['id']:
                return 200, {singular: item}
        raise not_found(singular.replace('_', ' '), req.args['id'])
    if listing_route:
        route('GET', '/' + collection)(listing)
    route('GET', '/%s/{id}' % collection)(one)


_catalog('locations', 'location')
_catalog('datacenters', 'datacenter', listing_route=False)
_catalog('server_types', 'server_type')


@route('GET', '/datacenters')
def list_datacenters(store, req):
    status, body, headers = store.listing(req, 'datacenters', store.catalog['datacenters'])
    # The datacenter the API would recommend for a new server (deprecated, but still answered).
    body['recommendation'] = store.catalog['datacenters'][0]['id']
    return status, body, headers


@route('GET', '/images')
def list_images(store, req):
    items = store.catalog['images']
    if not req.boolean('include_deprecated', False):
        items = [i for i in items if not i['deprecated']]
    architecture = req.one('architecture')
    if architecture:
        items = [i for i in items if i['architecture'] == architecture]
    return store.listing(req, 'images', items, {'type': req.all('type'), 'status': req.all('status'),
                                                'bound_to': req.all('bound_to')})


@route('GET', '/images/{id}')
def get_image(store, req):
    for item in store.catalog['images']:
        if item['id'] == req.args['id']:
            return 200, {'image': item}
    raise not_found('image', req.args['id'])


# ------------------------------------------------------------------------- actions

def _by_ids(store, req, scope=None):
    ids = req.all('id')
    if not ids:
        raise invalid_input('id', 'listing actions needs at least one id filter')
    try:
        wanted = set(int(i) for i in ids)
    except ValueError:
        raise invalid_input('id', 'must be an integer')
    items = [a for a in store.actions.values() if a['id'] in wanted
             and (scope is None or any(r['type'] == scope for r in a['resources']))]
    return store.listing(req, 'actions', items, {'status': req.all('status')})


def _one_action(store, aid, scope=None, rid=None):
    action = store.actions.get(aid)
    if action is None or (scope and not any(r['type'] == scope and (rid is None or r['id'] == rid)
                                            for r in action['resources'])):
        raise not_found('action', aid)
    return 200, {'action': action}


@route('GET', '/actions')
def list_actions(store, req):
    return _by_ids(store, req)


@route('GET', '/actions/{id}')
def get_action(store, req):
    return _one_action(store, req.args['id'])


def _scoped(collection):
    scope = collection[:-1]

    def listing(store, req):
        return _by_ids(store, req, scope)

    def one(store, req):
        return _one_action(store, req.args['id'], scope)

    def of_resource(store, req):
        items = store.actions_of(scope, req.args['id'])
        return store.listing(req, 'actions', items, {'status': req.all('status')})

    def one_of_resource(store, req):
        return _one_action(store, req.args['action_id'], scope, req.args['id'])
    route('GET', '/%s/actions' % collection)(listing)
    route('GET', '/%s/actions/{id}' % collection)(one)
    route('GET', '/%s/{id}/actions' % collection)(of_resource)
    route('GET', '/%s/{id}/actions/{action_id}' % collection)(one_of_resource)


for _collection in ACTION_SCOPES:
    _scoped(_collection)
