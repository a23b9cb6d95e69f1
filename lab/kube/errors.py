"""``Status`` error bodies with kube-apiserver's reasons, codes, details and messages."""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def body(self):
        status = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': self.message,
                  'reason': self.reason}
        if self.details is not None:
            status['details'] = self.details
        status['code'] = self.code  # kube-apiserver's field order: details before code
        return status


def _details(resource, name=None, **extra):
    details = {}
    if name:
        details['name'] = name
    if resource is not None:
        if resource.group:
            details['group'] = resource.group
        details['kind'] = resource.plural
    details.update(extra)
    return details


def not_found(resource, name):
    return ApiError(404, 'NotFound', '%s "%s" not found' % (resource.group_resource, name), _details(resource, name))


def namespace_not_found(name):
    return ApiError(404, 'NotFound', 'namespaces "%s" not found' % name, {'name': name, 'kind': 'namespaces'})


def no_resource():
    return ApiError(404, 'NotFound', 'the server could not find the requested resource', {})


def already_exists(resource, name):
    return ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (resource.group_resource, name), _details(resource, name))


def conflict(resource, name, why='the object has been modified; please apply your changes to the latest version and try again'):
    return ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": %s' % (resource.group_resource, name, why),
                    _details(resource, name))


def apply_conflict(message, causes):
    return ApiError(409, 'Conflict', message, {'causes': causes})


def invalid(resource, name, causes):
    """422 Invalid: ``causes`` are validation.Cause objects."""
    texts = [cause.text() for cause in causes]
    aggregate = texts[0] if len(texts) == 1 else '[%s]' % ', '.join(texts)
    return ApiError(422, 'Invalid', '%s "%s" is invalid: %s' % (resource.qualified_kind, name, aggregate),
                    _details(resource, name, kind=resource.kind, causes=[cause.as_dict() for cause in causes]))


def bad_request(message, causes=None):
    details = {'causes': causes} if causes else None
    return ApiError(400, 'BadRequest', message, details)


def strict_decoding(resource, version, unknown):
    fields = ', '.join('unknown field "%s"' % path for path in unknown)
    return bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s'
                       % (resource.kind, version, resource.kind, fields))


def forbidden(resource, name, message, causes=None):
    extra = {'causes': causes} if causes else {}
    return ApiError(403, 'Forbidden', message, _details(resource, name, **extra) if resource else None)


def method_not_allowed(message='the server does not allow this method on the requested resource'):
    return ApiError(405, 'MethodNotAllowed', message, {})


def unsupported_media_type(content_type):
    return ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: '
                    'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml', {})


def unavailable(why):
    return ApiError(503, 'ServiceUnavailable', why, {})


def timeout(why):
    return ApiError(504, 'Timeout', 'Timeout: request did not complete within requested timeout - %s' % why, {})


def gone(message):
    return ApiError(410, 'Expired', message, {})
