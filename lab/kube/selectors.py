"""Label selectors (the query grammar and LabelSelector objects) and field selectors, evaluated by the server."""
import re

from .errors import bad_request

_TOKEN = re.compile(r'\s*(!=|==|=|!|\(|\)|,|[^\s!=(),]+)')

# Field labels each resource supports besides metadata.name and metadata.namespace (kube's field label conversions).
FIELDS = {
    'pods': {'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork',
             'status.phase', 'status.podIP', 'status.nominatedNodeName'},
    'nodes': {'spec.unschedulable'},
    'namespaces': {'status.phase'},
    'secrets': {'type'},
    'events': {'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
               'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason',
               'reportingComponent', 'source', 'type'},
    'replicasets': {'status.replicas'},
    'jobs': {'status.successful'},
    'certificatesigningrequests': {'spec.signerName'},
}


def _tokens(text):
    position, tokens = 0, []
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise bad_request('unable to parse requirement: invalid label selector: %r' % text)
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def parse_labels(text):
    """``a=b,c!=d,e in (f,g),!h,i`` -> [(key, op, values)] with op in =, !=, in, notin, exists, !exists."""
    if not text:
        return []
    tokens = _tokens(text)
    result, index = [], 0

    def take():
        nonlocal index
        if index >= len(tokens):
            raise bad_request('unable to parse requirement: found \'\', expected: identifier in %r' % text)
        index += 1
        return tokens[index - 1]
    while index < len(tokens):
        token = take()
        if token == '!':
            result.append((take(), '!exists', []))
        else:
            key = token
            nxt = tokens[index] if index < len(tokens) else ','
            if nxt == ',':
                result.append((key, 'exists', []))
            elif nxt in ('=', '==', '!='):
                take()
                value = tokens[index] if index < len(tokens) and tokens[index] not in (',',) else ''
                if value:
                    take()
                result.append((key, '!=' if nxt == '!=' else '=', [value]))
            elif nxt in ('in', 'notin'):
                take()
                if take() != '(':
                    raise bad_request('unable to parse requirement: found %r, expected: \'(\'' % nxt)
                values = []
                while True:
                    token = take()
                    if token == ')':
                        break
                    if token != ',':
                        values.append(token)
                result.append((key, nxt, values))
            else:
                raise bad_request('unable to parse requirement: found %r, expected: \',\', \'!=\', \'==\', \'=\', \'in\', \'notin\'' % nxt)
        if index < len(tokens):
            if tokens[index] != ',':
                raise bad_request('unable to parse requirement: found %r, expected: \',\'' % tokens[index])
            index += 1
    return result


def match_requirements(labels, requirements):
    labels = labels or {}
    for key, op, values in requirements:
        if op == 'exists' and key not in labels:
            return False
        if op == '!exists' and key in labels:
            return False
        if op in ('=', 'in') and labels.get(key) not in values:
            return False
        if op in ('!=', 'notin') and key in labels and labels[key] in values:
            return False
    return True


def label_selector(selector):
    """A LabelSelector object (matchLabels + matchExpressions) -> requirements; None selects nothing."""
    if selector is None:
        return None
    requirements = [(k, '=', [v]) for k, v in (selector.get('matchLabels') or {}).items()]
    for expression in selector.get('matchExpressions') or ():
        op = {'In': 'in', 'NotIn': 'notin', 'Exists': 'exists', 'DoesNotExist': '!exists'}.get(expression.get('operator'))
        if op:
            requirements.append((expression['key'], op, list(expression.get('values') or ())))
    return requirements


def selector_text(selector):
    parts = ['%s=%s' % item for item in sorted((selector.get('matchLabels') or {}).items())]
    for expression in selector.get('matchExpressions') or ():
        op = expression.get('operator')
        if op in ('In', 'NotIn'):
            parts.append('%s %s (%s)' % (expression['key'], op.lower(), ','.join(expression.get('values') or ())))
        elif op == 'Exists':
            parts.append(expression['key'])
        elif op == 'DoesNotExist':
            parts.append('!' + expression['key'])
    return ','.join(parts)


def _lookup(obj, path):
    node = obj
    for part in path.split('.'):
        if not isinstance(node, dict):
            return ''
        node = node.get(part)
    if node is None:
        return ''
    if isinstance(node, bool):
        return 'true' if node else 'false'
    return str(node)


def parse_fields(text, resource):
    """``metadata.name=x,spec.nodeName!=y`` -> [(path, op, value)]; unsupported labels answer 400 as the server does."""
    if not text:
        return []
    allowed = {'metadata.name', 'metadata.namespace'} | FIELDS.get(resource.plural, set())
    if resource.crd is not None:
        for version in resource.crd.get('spec', {}).get('versions', ()):
            allowed |= {f.get('jsonPath', '').lstrip('.') for f in version.get('selectableFields') or ()}
    result = []
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        match = re.match(r'^([^!=]+)(==|!=|=)(.*)$', part)
        if not match:
            raise bad_request('invalid selector: \'%s\'; can\'t understand \'%s\'' % (text, part))
        path, op, value = match.groups()
        if path not in allowed:
            raise bad_request('field label not supported: %s' % path)
        result.append((path, '!=' if op == '!=' else '=', value))
    return result


def match_fields(obj, requirements):
    for path, op, value in requirements:
        actual = _lookup(obj, path)
        if op == '=' and actual != value:
            return False
        if op == '!=' and actual == value:
            return False
    return True
