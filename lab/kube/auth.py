"""Who is calling (the verified client certificate: CN user, O groups) and whether they may.

Authorization, kept simple and documented in docs/lab-kube.md: ``system:masters`` may do anything (as
on a real cluster); ``system:nodes`` too (the lab's kubelets; real nodes are limited by the Node
authorizer); every other authenticated user is checked against the RBAC objects in the cluster
(ClusterRoleBindings, RoleBindings in the request's namespace, their Roles and ClusterRoles: verbs, API
groups, resources with subresources, resource names, non-resource URLs); discovery, OpenAPI, version and
health paths are open to every authenticated user (system:discovery). Anonymous callers may only read
version and health (system:public-info-viewer).
"""
from . import catalog, errors

PUBLIC_PATHS = ('/healthz', '/livez', '/readyz', '/version')
DISCOVERY_PREFIXES = ('/api', '/apis', '/openapi', '/version', '/healthz', '/livez', '/readyz')
RBAC = {name: catalog.Resource('rbac.authorization.k8s.io', 'v1', kind, name, namespaced)
        for kind, name, namespaced in (('ClusterRoleBinding', 'clusterrolebindings', False), ('ClusterRole', 'clusterroles', False),
                                       ('RoleBinding', 'rolebindings', True), ('Role', 'roles', True))}


def identity(peercert):
    """(user, groups) from the ``ssl`` peer certificate dict; anonymous without one."""
    if not peercert:
        return 'system:anonymous', ['system:unauthenticated']
    user, groups = None, []
    for rdn in peercert.get('subject', ()):
        for key, value in rdn:
            if key == 'commonName':
                user = value
            elif key == 'organizationName':
                groups.append(value)
    return user or 'system:anonymous', groups + ['system:authenticated']


def _subject_matches(subject, user, groups):
    kind = subject.get('kind')
    if kind == 'User':
        return subject.get('name') == user
    if kind == 'Group':
        return subject.get('name') in groups
    if kind == 'ServiceAccount':
        return user == 'system:serviceaccount:%s:%s' % (subject.get('namespace'), subject.get('name'))
    return False


def _rule_allows(rule, verb, group, resource, name, path):
    if verb not in (rule.get('verbs') or ()) and '*' not in (rule.get('verbs') or ()):
        return False
    if path is not None:
        return any(url == path or url == '*' or (url.endswith('*') and path.startswith(url[:-1])) for url in rule.get('nonResourceURLs') or ())
    if group not in (rule.get('apiGroups') or ()) and '*' not in (rule.get('apiGroups') or ()):
        return False
    resources = rule.get('resources') or ()
    if resource not in resources and '*' not in resources and not (
            '/' in resource and '%s/*' % resource.split('/')[0] in resources):
        return False
    names = rule.get('resourceNames') or ()
    return not names or name in names


async def _rules(registry, role_ref, namespace):
    kind = 'roles' if role_ref.get('kind') == 'Role' else 'clusterroles'
    try:
        role = await registry.get(RBAC[kind], namespace if kind == 'roles' else None, role_ref.get('name', ''))
    except errors.ApiError:
        return []
    return role.get('rules') or []


async def allowed(registry, user, groups, verb, group, resource, namespace=None, name=None, path=None):
    if 'system:masters' in groups or 'system:nodes' in groups:
        return True
    if user == 'system:anonymous':
        return path is not None and path in PUBLIC_PATHS
    if path is not None and path.startswith(DISCOVERY_PREFIXES):
        return True
    bindings = (await registry.list(RBAC['clusterrolebindings']))['items']
    if namespace:
        bindings += (await registry.list(RBAC['rolebindings'], namespace))['items']
    for binding in bindings:
        if not any(_subject_matches(s, user, groups) for s in binding.get('subjects') or ()):
            continue
        scope = (binding.get('metadata') or {}).get('namespace')
        for rule in await _rules(registry, binding.get('roleRef') or {}, scope):
            if _rule_allows(rule, verb, group, resource, name, path):
                return True
    return False


def forbidden(user, verb, resource_obj, resource, namespace, name, path=None):
    if path is not None:
        return errors.ApiError(403, 'Forbidden', 'forbidden: User "%s" cannot %s path "%s"' % (user, verb, path), {})
    where = 'in the namespace "%s"' % namespace if namespace else 'at the cluster scope'
    subject = '%s "%s"' % (resource_obj.group_resource, name) if name else resource_obj.group_resource
    message = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
        subject, user, verb, resource, resource_obj.group, where)
    return errors.forbidden(resource_obj, name, message)
