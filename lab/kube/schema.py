"""A walkable view of a resource's schema, for strategic merge, server-side apply and pruning.

Built-in kinds use the kubernetes-validate definitions (``$ref`` into ``$defs``); custom resources use
the CRD version's ``openAPIV3Schema`` (no refs), with ``metadata`` taken from the built-in ObjectMeta
as the real server does. A node without type information is *deduced*, as structured-merge-diff treats
untyped data: maps are granular with every key a member, lists are atomic.
"""

OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'


def _type(raw):
    kind = raw.get('type')
    if isinstance(kind, list):
        kind = next((k for k in kind if k != 'null'), None)
    return kind


class Schema:
    __slots__ = ('raw', 'defs', 'root_of_cr')

    def __init__(self, raw, defs=None, root_of_cr=False):
        self.defs = defs or {}
        self.raw = self._resolve(raw if raw is not None else {})
        self.root_of_cr = root_of_cr

    def _resolve(self, raw):
        while isinstance(raw, dict):
            if '$ref' in raw:
                raw = self.defs.get(raw['$ref'].rsplit('/', 1)[-1], {})
            elif len(raw.get('allOf') or ()) == 1 and not raw.get('properties'):
                raw = raw['allOf'][0]
            else:
                break
        return raw if isinstance(raw, dict) else {}

    def _child(self, raw):
        return Schema(raw, self.defs)

    # ------------------------------------------------------------------ shape

    @property
    def kind(self):
        """'object', 'array', 'scalar' or None (deduced: no type information)."""
        raw = self.raw
        if raw.get('x-kubernetes-int-or-string') or raw.get('oneOf'):
            return 'scalar'
        kind = _type(raw)
        if kind == 'object' or 'properties' in raw or isinstance(raw.get('additionalProperties'), dict):
            return 'object'
        if kind == 'array' or 'items' in raw:
            return 'array'
        if kind in ('string', 'integer', 'number', 'boolean'):
            return 'scalar'
        return None

    @property
    def deduced(self):
        return self.kind is None

    @property
    def preserves_unknown(self):
        return bool(self.raw.get('x-kubernetes-preserve-unknown-fields')) or self.deduced

    def declared(self, name):
        return name in (self.raw.get('properties') or {})

    def field(self, name):
        """The schema of field ``name`` (a declared property or a map value); deduced when unknown."""
        if self.root_of_cr and name == 'metadata':
            return Schema({'$ref': '#/$defs/' + OBJECT_META}, self.defs)
        props = self.raw.get('properties') or {}
        if name in props:
            return self._child(props[name])
        extra = self.raw.get('additionalProperties')
        if isinstance(extra, dict):
            return self._child(extra)
        return Schema({}, self.defs)

    def items(self):
        return self._child(self.raw.get('items') or {})

    @property
    def is_map(self):
        """A map (free keys, every key a member) rather than a struct (declared fields)."""
        return 'properties' not in self.raw

    # ------------------------------------------------------------------ merge semantics

    @property
    def list_type(self):
        """'map', 'set' or 'atomic' (server-side apply)."""
        kind = self.raw.get('x-kubernetes-list-type')
        if kind in ('map', 'set', 'atomic'):
            return kind
        if 'merge' in self.patch_strategy:  # as kube's schema conversion reads the older markers
            return 'map' if self.patch_merge_key else 'set'
        return 'atomic'

    @property
    def list_map_keys(self):
        keys = self.raw.get('x-kubernetes-list-map-keys')
        if keys:
            return list(keys)
        merge_key = self.raw.get('x-kubernetes-patch-merge-key')
        return [merge_key] if merge_key else []

    @property
    def map_atomic(self):
        return self.raw.get('x-kubernetes-map-type') == 'atomic'

    @property
    def patch_strategy(self):
        return set(filter(None, (self.raw.get('x-kubernetes-patch-strategy') or '').split(',')))

    @property
    def patch_merge_key(self):
        return self.raw.get('x-kubernetes-patch-merge-key')

    def key_default(self, name):
        """The schema default of a list-map key field (``protocol`` of ports defaults to TCP)."""
        raw = self.items().field(name).raw
        if 'default' in raw:
            return raw['default']
        return 'TCP' if name == 'protocol' else None


def builtin(defs, definition):
    return Schema({'$ref': '#/$defs/' + definition}, defs)


def custom(defs, open_api_v3_schema):
    return Schema(open_api_v3_schema or {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}, defs, root_of_cr=True)
