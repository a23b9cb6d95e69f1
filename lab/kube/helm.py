"""Helm's release storage as the lab's stand-ins write and read it (cilium-cli's install, helm-controller's upgrade).

Helm keeps each revision of a release in a Secret of type ``helm.sh/release.v1`` named
``sh.helm.release.v1.<release>.v<revision>``, labelled ``owner=helm``, ``name``, ``status`` and ``version``; its
``release`` key holds the release as base64 of gzip'd JSON (the API base64-encodes Secret data once more).
"""
import base64
import datetime
import gzip
import json

TYPE = 'helm.sh/release.v1'


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def record(name, namespace, chart, version, values, revision, description, first_deployed=None):
    moment = now()
    return {'name': name, 'namespace': namespace, 'version': revision,
            'info': {'status': 'deployed', 'description': description, 'first_deployed': first_deployed or moment,
                     'last_deployed': moment},
            'chart': {'metadata': {'name': chart, 'version': version, 'appVersion': version}},
            'config': values}


def secret(release):
    """The Secret that stores ``release`` (a record)."""
    encoded = base64.b64encode(gzip.compress(json.dumps(release, sort_keys=True).encode())).decode()
    status = release['info']['status']
    return {'apiVersion': 'v1', 'kind': 'Secret', 'type': TYPE,
            'metadata': {'name': 'sh.helm.release.v1.%s.v%d' % (release['name'], release['version']), 'namespace': release['namespace'],
                         'labels': {'name': release['name'], 'owner': 'helm', 'status': status, 'version': str(release['version'])}},
            'data': {'release': base64.b64encode(encoded.encode()).decode()}}


def read(stored):
    """The record in a release Secret."""
    encoded = base64.b64decode(stored['data']['release'])
    return json.loads(gzip.decompress(base64.b64decode(encoded)))
