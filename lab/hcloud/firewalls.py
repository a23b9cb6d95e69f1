"""Firewalls: rules, ``apply_to`` servers and label selectors, and their three actions."""
import ipaddress

from . import selector
from .routes import route
from .store import ApiError, check_labels, invalid_input, not_found

PROTOCOLS = ('tcp', 'udp', 'icmp', 'esp', 'gre')
MAX_PER_SERVER = 5


def firewalls_of(store, server):
    """Ids of the firewalls that apply to the server, directly or through a label selector."""
    found = []
    for firewall in store.firewalls.values():
        for target in firewall['applied_to']:
            if target['type'] == 'server' and target['server']['id'] == server['id']:
                found.append(firewall['id'])
                break
            if target['type'] == 'label_selector' and selector.matches(
                    selector.parse(target['label_selector']['selector']), server['labels']):
                found.append(firewall['id'])
                break
    return found


def check_rules(rules):
    if not isinstance(rules, list):
        raise invalid_input('rules', 'must be a list')
    clean = []
    for rule in rules:
        direction, protocol, port = rule.get('direction'), rule.get('protocol'), rule.get('port')
        if direction not in ('in', 'out'):
            raise invalid_input('rules', 'direction must be in or out')
        if protocol not in PROTOCOLS:
            raise invalid_input('rules', 'protocol must be one of %s' % ', '.join(PROTOCOLS))
        if protocol in ('tcp', 'udp') and not port:
            raise invalid_input('rules', 'port is required for protocol %s' % protocol)
        if protocol not in ('tcp', 'udp') and port:
            raise invalid_input('rules', 'port is not allowed for protocol %s' % protocol)
        ips = rule.get('source_ips' if direction == 'in' else 'destination_ips') or []
        if not ips:
            raise invalid_input('rules', '%s is required for direction %s'
                                % ('source_ips' if direction == 'in' else 'destination_ips', direction))
        for ip in (rule.get('source_ips') or []) + (rule.get('destination_ips') or []):
            try:
                ipaddress.ip_network(ip, strict=True)
            except ValueError:
                raise invalid_input('rules', '%r is not a valid network' % ip)
        clean.append({'direction': direction, 'protocol': protocol, 'port': port if port else None,
                      'source_ips': list(rule.get('source_ips') or []),
                      'destination_ips': list(rule.get('destination_ips') or []),
                      'description': rule.get('description')})
    return clean


def _check_targets(store, targets, field='apply_to'):
    clean = []
    for target in targets or []:
        kind = target.get('type')
        if kind == 'server':
            sid = (target.get('server') or {}).get('id')
            if sid not in store.servers:
                raise ApiError(404, 'firewall_resource_not_found', 'server %s not found' % sid)
            clean.append({'type': 'server', 'server': {'id': sid}})
        elif kind == 'label_selector':
            text = (target.get('label_selector') or {}).get('selector') or ''
            try:
                selector.parse(text)
            except selector.SelectorError as exc:
                raise invalid_input(field, str(exc))
            clean.append({'type': 'label_selector', 'label_selector': {'selector': text}})
        else:
            raise invalid_input(field, 'type must be server or label_selector')
    return clean


def render(store, firewall):
    applied = []
    for target in firewall['applied_to']:
        if target['type'] == 'server':
            applied.append({'type': 'server', 'server': dict(target['server'])})
        else:
            terms = selector.parse(target['label_selector']['selector'])
            applied.append({'type': 'label_selector', 'label_selector': dict(target['label_selector']),
                            'applied_to_resources': [{'type': 'server', 'server': {'id': s['id']}}
                                                     for s in store.servers.values()
                                                     if selector.matches(terms, s['labels'])]})
    return {'id': firewall['id'], 'name': firewall['name'], 'labels': dict(firewall['labels']),
            'created': firewall['created'], 'rules': [dict(r) for r in firewall['rules']], 'applied_to': applied}


def get_firewall(store, fid):
    firewall = store.firewalls.get(fid)
    if firewall is None:
        raise not_found('firewall', fid)
    return firewall


def _unique(store, name, firewall=None):
    if any(f['name'] == name and f is not firewall for f in store.firewalls.values()):
        raise ApiError(409, 'uniqueness_error', 'firewall name is already used', {'fields': [{'name': 'name'}]})


def _actions(store, firewall, command, targets):
    resources = [('firewall', firewall['id'])]
    resources += [('server', t['server']['id']) for t in targets if t['type'] == 'server']
    return store.action(command, resources)


@route('GET', '/firewalls')
def list_firewalls(store, req):
    return store.listing(req, 'firewalls', list(store.firewalls.values()), render=lambda f: render(store, f))


@route('POST', '/firewalls')
def post_firewall(store, req):
    name = req.body.get('name')
    if not isinstance(name, str) or not name:
        raise invalid_input('name', 'is required')
    _unique(store, name)
    rules = check_rules(req.body.get('rules') or [])
    targets = _check_targets(store, req.body.get('apply_to'))
    firewall = {'id': store.new_id(), 'name': name, 'labels': check_labels(req.body.get('labels')),
                'created': store.now(), 'rules': rules, 'applied_to': targets}
    store.firewalls[firewall['id']] = firewall
    actions = [_actions(store, firewall, 'set_firewall_rules', [])]
    if targets:
        actions.append(_actions(store, firewall, 'apply_firewall', targets))
    return 201, {'firewall': render(store, firewall), 'actions': actions}


@route('GET', '/firewalls/{id}')
def get_one(store, req):
    return 200, {'firewall': render(store, get_firewall(store, req.args['id']))}


@route('PUT', '/firewalls/{id}')
def put_firewall(store, req):
    firewall = get_firewall(store, req.args['id'])
    if 'name' in req.body:
        _unique(store, req.body['name'], firewall)
        firewall['name'] = req.body['name']
    if 'labels' in req.body:
        firewall['labels'] = check_labels(req.body['labels'])
    return 200, {'firewall': render(store, firewall)}


@route('DELETE', '/firewalls/{id}')
def delete_firewall(store, req):
    firewall = get_firewall(store, req.args['id'])
    if firewall['applied_to']:
        raise ApiError(422, 'resource_in_use', 'firewall is still applied to resources')
    del store.firewalls[firewall['id']]
    return 204, None


@route('POST', '/firewalls/{id}/actions/set_rules')
def set_rules(store, req):
    firewall = get_firewall(store, req.args['id'])
    if 'rules' not in req.body:
        raise invalid_input('rules', 'is required')
    firewall['rules'] = check_rules(req.body['rules'])
    return 201, {'actions': [_actions(store, firewall, 'set_firewall_rules', [])]}


@route('POST', '/firewalls/{id}/actions/apply_to_resources')
def apply_to_resources(store, req):
    firewall = get_firewall(store, req.args['id'])
    targets = _check_targets(store, req.body.get('apply_to'))
    for target in targets:
        if target in firewall['applied_to']:
            raise ApiError(422, 'firewall_already_applied', 'firewall is already applied to this resource')
        if target['type'] == 'server' and len(firewalls_of(store, store.servers[target['server']['id']])) >= MAX_PER_SERVER:
            raise ApiError(422, 'resource_limit_exceeded', 'a server can have at most %d firewalls' % MAX_PER_SERVER)
    firewall['applied_to'].extend(targets)
    return 201, {'actions': [_actions(store, firewall, 'apply_firewall', targets)]}


@route('POST', '/firewalls/{id}/actions/remove_from_resources')
def remove_from_resources(store, req):
    firewall = get_firewall(store, req.args['id'])
    targets = _check_targets(store, req.body.get('remove_from'), 'remove_from')
    for target in targets:
        if target not in firewall['applied_to']:
            raise ApiError(422, 'firewall_already_removed', 'firewall is not applied to this resource')
    firewall['applied_to'] = [t for t in firewall['applied_to'] if t not in targets]
    return 201, {'actions': [_actions(store, firewall, 'remove_firewall', targets)]}
