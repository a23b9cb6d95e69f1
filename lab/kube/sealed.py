"""The Sealed Secrets controller in the lab (bitnami-labs/sealed-secrets v0.36, the image of charts.sealed_secrets).

Three hooks (hooks.py), written from the controller's documented behaviour and not from the collection's sealing code
(plugins/module_utils/_sealed_secrets.py), which the lab tests:

* **The container** (``docker.io/bitnami/sealed-secrets-controller``): on start, when its namespace holds no Secret
  labelled ``sealedsecrets.bitnami.com/sealed-secrets-key=active``, it makes one as the controller does: a 4096-bit RSA
  key and a self-signed certificate valid ten years, in a ``kubernetes.io/tls`` Secret (``tls.key`` PKCS#1 PEM,
  ``tls.crt``) with ``generateName`` from ``--key-prefix`` (``sealed-secrets-key``). Only then is it ready. It runs
  until its pod goes. No key rotation (``--key-renew-period``) is modelled.
* **Its HTTP port** (the API server's service proxy, proxy.py): ``GET /v1/cert.pem`` answers the newest active key's
  certificate (``application/x-pem-file``), ``/healthz`` ``ok``; anything else 404.
* **SealedSecrets** (``bitnami.com`` ``SealedSecret``), while a controller pod is ready: each value of
  ``spec.encryptedData`` is unsealed with the active keys of the controller's namespace and the scope label taken
  from the SealedSecret's own name, namespace and annotations (``<ns>/<name>``, ``<ns>`` with
  ``sealedsecrets.bitnami.com/namespace-wide``, empty with ``…/cluster-wide``). All values unsealed: the Secret of the
  same name is created or replaced (type, labels and annotations from ``spec.template``, an owner reference to the
  SealedSecret unless ``sealedsecrets.bitnami.com/skip-set-owner-references``), ``status.conditions``
  ``Synced=True``. A value that does not unseal (moved out of its scope, another key): no Secret is written and
  ``Synced=False`` with the controller's message ``no key could decrypt secret (<keys>)``. A Secret of that name the
  SealedSecret does not own (and not annotated ``sealedsecrets.bitnami.com/managed: "true"``) is left alone:
  ``Resource "<name>" already exists and is not managed by SealedSecret``. Deleting the SealedSecret deletes the Secret
  through its owner reference (the lab's garbage collector does not follow custom owners, so the sweep here does).
  Not modelled: ``spec.template.data`` templating, the ``patch`` annotation, events.
"""
import asyncio
import base64
import datetime
import struct

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from . import catalog, charts, errors, hooks
from .client import Client

KEY_LABEL = 'sealedsecrets.bitnami.com/sealed-secrets-key'
NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide'
CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide'
MANAGED = 'sealedsecrets.bitnami.com/managed'
SKIP_OWNER = 'sealedsecrets.bitnami.com/skip-set-owner-references'
KEY_BITS = 4096
CERT_VALIDITY = datetime.timedelta(days=3650)
MANAGER = 'controller'  # the controller binary's name, its field manager
SECRETS = catalog.Resource('', 'v1', 'Secret', 'secrets', True)
PODS = catalog.Resource('', 'v1', 'Pod', 'pods', True)
API_VERSION = 'bitnami.com/v1alpha1'


# ---------------------------------------------------------------------------------------------- keys

def new_key_secret(prefix, namespace, now=None):
    """A controller key pair as the Secret the controller writes (generateName; the API server names it)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'sealed-secret')])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + CERT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    return {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'kubernetes.io/tls',
            'metadata': {'generateName': prefix, 'namespace': namespace, 'labels': {KEY_LABEL: 'active'}},
            'data': {'tls.crt': base64.b64encode(cert_pem).decode(), 'tls.key': base64.b64encode(key_pem).decode()}}


def _newest(secrets):
    return sorted(secrets, key=lambda s: (s['metadata'].get('creationTimestamp', ''), s['metadata']['name']))


def _prefix(container):
    args = list(container.get('args') or ())
    return args[args.index('--key-prefix') + 1] if '--key-prefix' in args[:-1] else 'sealed-secrets-key'


async def controller(ctx):
    """The controller's start: an active key in its namespace (made when there is none), then ready until the pod goes."""
    namespace = ctx.pod['metadata']['namespace']
    path = Client.path('v1', 'secrets', namespace=namespace)
    found = (await ctx.client.request('GET', path, params={'labelSelector': '%s=active' % KEY_LABEL}))['items']
    if found:
        ctx.write('controller version: v0.36; active key %s' % _newest(found)[-1]['metadata']['name'])
    else:
        body = await asyncio.to_thread(new_key_secret, _prefix(ctx.container), namespace)
        made = await ctx.client.request('POST', path, body)
        ctx.write('New key written to %s/%s' % (namespace, made['metadata']['name']))
    ctx.write('HTTP server serving on :8080')
    ctx.ready = True
    await asyncio.Event().wait()
    return 0


controller.starts_unready = True


async def _active_keys(registry, namespace):
    return _newest((await registry.list(SECRETS, namespace, '%s=active' % KEY_LABEL))['items'])


async def http(ctx):
    """The controller's HTTP server behind the service proxy."""
    if ctx.path == '/healthz':
        return 200, 'text/plain; charset=utf-8', b'ok'
    if ctx.path == '/v1/cert.pem':
        keys = await _active_keys(ctx.registry, ctx.pod['metadata']['namespace'])
        if not keys:
            return 500, 'text/plain; charset=utf-8', b'no active key\n'
        return 200, 'application/x-pem-file', base64.b64decode(keys[-1]['data']['tls.crt'])
    return 404, 'text/plain; charset=utf-8', b'404 page not found\n'


# ---------------------------------------------------------------------------------------------- unsealing

def scope_label(meta):
    annotations = meta.get('annotations') or {}
    if annotations.get(CLUSTER_WIDE) == 'true':
        return b''
    if annotations.get(NAMESPACE_WIDE) == 'true':
        return meta.get('namespace', '').encode()
    return ('%s/%s' % (meta.get('namespace', ''), meta['name'])).encode()


def decrypt(private_keys, blob, label):
    """One value: uint16 BE length, RSA-OAEP(SHA-256) session key with the scope label, AES-256-GCM (zero nonce)."""
    if len(blob) < 2:
        raise ValueError('ciphertext too short')
    (size,) = struct.unpack('>H', blob[:2])
    wrapped, sealed = blob[2:2 + size], blob[2 + size:]
    if len(wrapped) != size:
        raise ValueError('ciphertext too short')
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None)
    for key in private_keys:
        try:
            session = key.decrypt(wrapped, oaep)
            return AESGCM(session).decrypt(b'\0' * 12, sealed, None)
        except (ValueError, InvalidTag):  # not this key
            continue
    raise ValueError('no key could decrypt')


def unseal(sealed, private_keys):
    """(data, None) or (None, the controller's error message) for a SealedSecret."""
    label = scope_label(sealed['metadata'])
    data, failed = {}, []
    for key, text in sorted(((sealed.get('spec') or {}).get('encryptedData') or {}).items()):
        try:
            data[key] = decrypt(private_keys, base64.b64decode(text, validate=True), label)
        except (ValueError, TypeError):
            failed.append(key)
    if failed:
        return None, 'no key could decrypt secret (%s)' % ', '.join(failed)
    return data, None


def secret_for(sealed, data):
    meta = sealed['metadata']
    template = (sealed.get('spec') or {}).get('template') or {}
    tmeta = template.get('metadata') or {}
    secret = {'apiVersion': 'v1', 'kind': 'Secret', 'type': template.get('type') or 'Opaque',
              'metadata': {'name': meta['name'], 'namespace': meta['namespace']},
              'data': {k: base64.b64encode(v).decode() for k, v in data.items()}}
    for field in ('labels', 'annotations'):
        if tmeta.get(field):
            secret['metadata'][field] = dict(tmeta[field])
    if template.get('immutable') is not None:
        secret['immutable'] = template['immutable']
    if (meta.get('annotations') or {}).get(SKIP_OWNER) != 'true':
        secret['metadata']['ownerReferences'] = [{'apiVersion': API_VERSION, 'kind': 'SealedSecret', 'name': meta['name'],
                                                  'uid': meta['uid'], 'controller': True}]
    return secret


def _owned_by(secret, sealed):
    return any(ref.get('uid') == sealed['metadata']['uid'] for ref in secret['metadata'].get('ownerReferences') or ())


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


async def _get(registry, resource, namespace, name):
    try:
        return await registry.get(resource, namespace, name)
    except errors.ApiError as exc:
        if exc.code == 404:
            return None
        raise


async def _controller_namespace(registry):
    """The namespace of a ready controller pod, or None while none runs."""
    for pod in (await registry.list(PODS, None))['items']:
        images = [hooks.repository(c.get('image')) for c in (pod.get('spec') or {}).get('containers') or ()]
        if charts.SEALED_SECRETS_IMAGE in images and not pod['metadata'].get('deletionTimestamp') and any(
                c.get('type') == 'Ready' and c.get('status') == 'True' for c in (pod.get('status') or {}).get('conditions') or ()):
            return pod['metadata']['namespace']
    return None


async def _set_synced(ctx, sealed, ok, message):
    old = sealed.get('status') or {}
    generation = sealed['metadata'].get('generation', 1)
    previous = next((c for c in old.get('conditions') or () if c.get('type') == 'Synced'), {})
    status_text = 'True' if ok else 'False'
    condition = {'type': 'Synced', 'status': status_text,
                 'lastTransitionTime': previous.get('lastTransitionTime') if previous.get('status') == status_text else _now(),
                 'lastUpdateTime': _now()}
    if message:
        condition['message'] = message
    if old.get('observedGeneration') == generation and previous.get('status') == status_text and previous.get('message') == message:
        return
    new = dict(sealed, status={'conditions': [condition], 'observedGeneration': generation})
    resource = ctx.registry.resource_for(sealed['apiVersion'], sealed['kind'])
    await ctx.registry.update(resource, sealed['metadata']['namespace'], sealed['metadata']['name'], new, MANAGER, subresource='status')


async def sealed_secret(ctx, sealed):
    meta = sealed['metadata']
    if meta.get('deletionTimestamp'):
        return
    status = sealed.get('status') or {}
    synced = next((c for c in status.get('conditions') or () if c.get('type') == 'Synced'), None)
    live = await _get(ctx.registry, SECRETS, meta['namespace'], meta['name'])
    if synced is not None and status.get('observedGeneration') == meta.get('generation', 1) and (
            synced.get('status') == 'False' or (live is not None and _owned_by(live, sealed))):
        return  # this generation is done (a deleted Secret is made again, as the controller does)
    namespace = await _controller_namespace(ctx.registry)
    if namespace is None:
        return
    keys = []
    for item in await _active_keys(ctx.registry, namespace):
        keys.append(serialization.load_pem_private_key(base64.b64decode(item['data']['tls.key']), password=None))
    if live is not None and not _owned_by(live, sealed) and (live['metadata'].get('annotations') or {}).get(MANAGED) != 'true':
        await _set_synced(ctx, sealed, False, 'Resource "%s" already exists and is not managed by SealedSecret' % meta['name'])
        return
    data, error = await asyncio.to_thread(unseal, sealed, keys)
    if error:
        await _set_synced(ctx, sealed, False, error)
        return
    body = secret_for(sealed, data)
    if live is None:
        await ctx.registry.create(SECRETS, meta['namespace'], body, MANAGER)
    else:
        body['metadata']['resourceVersion'] = live['metadata']['resourceVersion']
        await ctx.registry.update(SECRETS, meta['namespace'], meta['name'], body, MANAGER)
    await _set_synced(ctx, sealed, True, None)


async def collect_orphans(ctx):
    """Secrets owned by a SealedSecret that is gone (kube's garbage collector does this for any owner)."""
    resource = ctx.registry.resource_for(API_VERSION, 'SealedSecret')
    if resource is None:
        return
    uids = {item['metadata']['uid'] for item in (await ctx.registry.list(resource))['items']}
    for secret in (await ctx.registry.list(SECRETS, None))['items']:
        refs = [r for r in secret['metadata'].get('ownerReferences') or () if r.get('kind') == 'SealedSecret'
                and r.get('apiVersion', '').startswith('bitnami.com/')]
        if refs and not any(r.get('uid') in uids for r in refs):
            try:
                await ctx.registry.delete(SECRETS, secret['metadata']['namespace'], secret['metadata']['name'])
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise


hooks.register_container(charts.SEALED_SECRETS_IMAGE, controller)
hooks.register_http(charts.SEALED_SECRETS_IMAGE, http)
hooks.register_custom('bitnami.com', 'SealedSecret', sealed_secret)
hooks.register_sweep(collect_orphans)
