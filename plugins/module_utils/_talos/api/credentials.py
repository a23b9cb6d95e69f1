# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client credentials from a talosconfig: the OS CA, the client certificate and its key.

Reading only: a talosconfig holds base64 PEM values per context (talos-api.md section 9). Checks that
need no network happen here, before any connection: the certificate's validity dates, its roles.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime
import os
import traceback

from .errors import TalosApiError

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core itself needs PyYAML on the controller
    yaml = None

try:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

# Lookup order of talosctl (pkg/machinery/client/config/path.go).
IN_CLUSTER_PATH = '/var/run/secrets/talos.dev/config'

Credentials = collections.namedtuple('Credentials', 'ca crt key endpoints nodes context source')
Credentials.__doc__ = 'PEM bytes of the OS CA, client certificate and key, plus the context around them.'

CertificateInfo = collections.namedtuple('CertificateInfo', 'subject roles not_before not_after')


def find_talosconfig(environ=None):
    """The talosconfig path talosctl would use: $TALOSCONFIG, $TALOS_HOME/config, ~/.talos/config, in-cluster."""
    environ = os.environ if environ is None else environ
    if environ.get('TALOSCONFIG'):
        return environ['TALOSCONFIG']
    talos_home = environ.get('TALOS_HOME', '')
    if os.path.isabs(talos_home):
        return os.path.join(talos_home, 'config')
    home = environ.get('HOME') or os.path.expanduser('~')
    candidate = os.path.join(home, '.talos', 'config')
    if os.path.exists(candidate) or not os.path.exists(IN_CLUSTER_PATH):
        return candidate
    return IN_CLUSTER_PATH


def load_talosconfig(path, context=None):
    """Read a talosconfig file and return the Credentials of ``context`` (default: its current one)."""
    try:
        with open(path, 'rb') as handle:
            text = handle.read()
    except OSError as exc:
        raise TalosApiError('bad_talosconfig', 'cannot read the talosconfig %s: %s' % (path, exc.strerror or exc)) from None
    if yaml is None:
        raise TalosApiError('missing_library', 'reading a talosconfig needs PyYAML')
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Only the position: the parser's own text may quote the file, which holds the key.
        mark = getattr(exc, 'problem_mark', None)
        where = ' at line %d' % (mark.line + 1) if mark is not None else ''
        raise TalosApiError('bad_talosconfig', 'the talosconfig %s is not valid YAML%s' % (path, where)) from None
    return parse_talosconfig(data, path, context)


def _decode_pem(context, field, source, name):
    value = context.get(field)
    if not value or not isinstance(value, str):
        raise TalosApiError('bad_talosconfig', 'context %s of the talosconfig %s has no %s' % (name, source, field))
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TalosApiError('bad_talosconfig', 'the %s of context %s in the talosconfig %s is not base64' % (field, name, source)) from None
    if b'-----BEGIN ' not in decoded:
        raise TalosApiError('bad_talosconfig', 'the %s of context %s in the talosconfig %s is not PEM' % (field, name, source))
    return decoded


def parse_talosconfig(data, source, context=None):
    """Credentials of one context of a parsed talosconfig mapping; ``source`` names it in errors."""
    if not isinstance(data, dict) or not isinstance(data.get('contexts'), dict) or not data['contexts']:
        raise TalosApiError('bad_talosconfig', 'the talosconfig %s has no contexts' % source)
    name = context or data.get('context')
    if not name:
        raise TalosApiError('bad_talosconfig', 'the talosconfig %s names no current context; choose one of %s'
                            % (source, ', '.join(sorted(data['contexts']))))
    selected = data['contexts'].get(name)
    if not isinstance(selected, dict):
        raise TalosApiError('bad_talosconfig', 'the talosconfig %s has no context %s; it has %s'
                            % (source, name, ', '.join(sorted(str(key) for key in data['contexts']))))
    endpoints = list(selected.get('endpoints') or [])
    if selected.get('target'):  # legacy single endpoint, appended as talosctl does on load
        endpoints.append(selected['target'])
    return Credentials(
        ca=_decode_pem(selected, 'ca', source, name),
        crt=_decode_pem(selected, 'crt', source, name),
        key=key_pem_for_ssl(_decode_pem(selected, 'key', source, name)),
        endpoints=endpoints,
        nodes=list(selected.get('nodes') or []),
        context=name,
        source=source,
    )


def key_pem_for_ssl(key_pem):
    """Talos writes Ed25519 keys as 'ED25519 PRIVATE KEY' around a PKCS#8 body; OpenSSL reads 'PRIVATE KEY'."""
    # One replace covers the BEGIN and the END line.
    return key_pem.replace(b' ED25519 PRIVATE KEY-----', b' PRIVATE KEY-----')


def certificate_info(crt_pem):
    """Subject, roles (Organization values) and validity of the first certificate in ``crt_pem``."""
    if not HAS_CRYPTOGRAPHY:
        raise TalosApiError('missing_library', 'checking the client certificate needs the cryptography library')
    try:
        cert = x509.load_pem_x509_certificate(crt_pem)
    except ValueError:
        raise TalosApiError('bad_talosconfig', 'the client certificate in the talosconfig cannot be read') from None
    roles = [attr.value for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) if attr.value]
    return CertificateInfo(cert.subject.rfc4514_string(), roles, cert.not_valid_before_utc, cert.not_valid_after_utc)


def _stamp(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def check_validity(info, node=None, call=None, now=None):
    """Raise unless ``now`` lies within the certificate's validity: a node would refuse it anyway."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    window = 'valid from %s to %s' % (_stamp(info.not_before), _stamp(info.not_after))
    if now > info.not_after:
        raise TalosApiError('client_cert_expired', 'the client certificate in the talosconfig expired on %s (%s, now %s): '
                            'issue a new one from the OS CA' % (_stamp(info.not_after), window, _stamp(now)),
                            node=node, call=call, not_before=_stamp(info.not_before), not_after=_stamp(info.not_after))
    if now < info.not_before:
        raise TalosApiError('client_cert_not_yet_valid', 'the client certificate in the talosconfig is not valid before %s '
                            '(%s, now %s): check the clock of this machine' % (_stamp(info.not_before), window, _stamp(now)),
                            node=node, call=call, not_before=_stamp(info.not_before), not_after=_stamp(info.not_after))
