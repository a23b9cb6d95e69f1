"""The route table of the Hetzner stand-in and the parsed request handed to every handler."""
import re

from .store import invalid_input

ROUTES = []


def route(method, template):
    """Register ``fn(store, req)`` for ``method`` on ``template`` (``{id}``-style integer placeholders)."""
    pattern = re.compile('^' + re.sub(r'\{(\w+)\}', r'(?P<\1>[^/]+)', template) + '$')

    def register(fn):
        ROUTES.append((method, template, pattern, fn))
        return fn
    return register


def resolve(method, path):
    """Return ``(template, fn, args)``; fn is None when no route matches (args then says if the path exists)."""
    known, best = False, None
    for m, template, pattern, fn in ROUTES:
        match = pattern.match(path)
        if match:
            known = True
            # A literal segment wins over a placeholder: /servers/actions is not /servers/{id}.
            if m == method and (best is None or template.count('{') < best[0].count('{')):
                best = (template, fn, match.groupdict())
    return best or (None, None, {'known_path': known})


class Request(object):
    """What a handler sees: query pairs, JSON body, integer path arguments, the list URL for Link headers."""

    def __init__(self, query, body, args, url):
        self.query = query
        self.body = body if isinstance(body, dict) else {}
        self.url = url
        self.args = {}
        for key, value in args.items():
            if not value.isdigit():
                raise invalid_input(key, 'must be an integer')
            self.args[key] = int(value)

    def all(self, name):
        return [v for k, v in self.query if k == name]

    def one(self, name):
        values = self.all(name)
        return values[-1] if values else None

    def integer(self, name, default, minimum=None):
        value = self.one(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise invalid_input(name, 'must be an integer')
        if minimum is not None and number < minimum:
            raise invalid_input(name, 'must be at least %d' % minimum)
        return number

    def boolean(self, name, default=None):
        value = self.one(name)
        if value is None:
            return default
        return value.lower() in ('1', 'true', 'yes')
