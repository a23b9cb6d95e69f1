# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS contexts for the Talos API, and the diagnosis of a failed handshake.

Talos serves gRPC over TLS (1.2 minimum, 1.3 in practice) with ALPN ``h2``; its certificates are
Ed25519, which the stdlib ``ssl`` module (OpenSSL 3) handles and grpcio does not. ``ssl`` loads a
client key only from a file, so the key lives for the length of one ``load_cert_chain`` call in a
private temporary directory (0700, files 0600), on a RAM file system when the machine has one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import tempfile
import traceback

from .errors import TalosApiError

try:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None

ALPN = ['h2']
# The common name of the certificate a Talos node serves while it has no machine config.
MAINTENANCE_CN = 'maintenance-service.talos.dev'
_RAM_DIR = '/dev/shm'
# OpenSSL verify codes (X509_V_ERR_*) that mean "not issued by the CA we trust".
_UNTRUSTED_CODES = {2, 18, 19, 20, 21}
_HOSTNAME_MISMATCH = {62, 64}
_EXPIRED = {9, 10}
# TLS alerts a server sends when it refuses the client certificate.
_CLIENT_CERT_ALERTS = ('UNKNOWN_CA', 'BAD_CERTIFICATE', 'CERTIFICATE_REQUIRED', 'CERTIFICATE_EXPIRED',
                       'CERTIFICATE_UNKNOWN', 'UNSUPPORTED_CERTIFICATE', 'ACCESS_DENIED', 'DECRYPT_ERROR')


def _base_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Talos' grpc-go refuses peers that do not negotiate h2 (talos-api.md section 8).
    context.set_alpn_protocols(ALPN)
    return context


def insecure_context():
    """Maintenance mode: encrypted but unauthenticated, no server verification and no client certificate."""
    context = _base_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _private_dir():
    base = _RAM_DIR if os.path.isdir(_RAM_DIR) and os.access(_RAM_DIR, os.W_OK) else None
    return tempfile.mkdtemp(prefix='talos-tls-', dir=base)  # mkdtemp creates it 0700


def _write_private(path, data):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, 'wb') as handle:
        handle.write(data)


def authenticated_context(credentials, node=None):
    """Verify the node against the talosconfig CA and present its client certificate."""
    context = _base_context()
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(cadata=credentials.ca.decode('ascii'))
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise TalosApiError('bad_talosconfig', 'the CA of context %s in the talosconfig %s is not a readable certificate'
                            % (credentials.context, credentials.source), node=node) from None
    directory = _private_dir()
    try:
        crt_path = os.path.join(directory, 'client.crt')
        key_path = os.path.join(directory, 'client.key')
        _write_private(crt_path, credentials.crt)
        _write_private(key_path, credentials.key)
        context.load_cert_chain(crt_path, key_path)
    except ssl.SSLError as exc:
        raise TalosApiError('bad_credentials', 'the client certificate and key of context %s in the talosconfig %s '
                            'cannot be used (%s)' % (credentials.context, credentials.source, getattr(exc, 'reason', None) or 'unreadable'),
                            node=node) from None
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return context


def _common_name(name):
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return values[0].value if values else name.rfc4514_string()


async def peer_certificate(host, port, timeout):
    """Subject and issuer common names of the certificate a server presents, without verifying it.

    Only used after a verification failure, to tell a node in maintenance mode (its certificate comes
    from an ephemeral maintenance CA) from a node whose OS CA is not the talosconfig's. None if unknown.
    """
    if not HAS_CRYPTOGRAPHY:
        return None
    writer = None
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=insecure_context(), server_hostname=host), timeout)
        der = writer.get_extra_info('ssl_object').getpeercert(binary_form=True)
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        return None
    finally:
        if writer is not None:
            writer.close()
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    return {'subject': _common_name(cert.subject), 'issuer': _common_name(cert.issuer)}


def describe_verify_failure(exc, peer, endpoint):
    """(reason, why) for a server certificate our CA did not accept."""
    code = getattr(exc, 'verify_code', None)
    detail = 'certificate verify failed: %s' % (getattr(exc, 'verify_message', None) or getattr(exc, 'reason', None) or 'unknown')
    if peer and peer['subject'] == MAINTENANCE_CN:
        return 'maintenance_mode', ('the node is in maintenance mode (it serves the certificate of its maintenance CA, %s) '
                                    'but a configured node was expected: apply a machine config in insecure mode first' % detail)
    if code in _HOSTNAME_MISMATCH:
        return 'hostname_mismatch', ('%s: the node certificate does not name %s; add it to machine.certSANs or use an '
                                     'endpoint the certificate names' % (detail, endpoint))
    if code in _EXPIRED:
        return 'server_cert_invalid', '%s: the node certificate is outside its validity period' % detail
    issuer = ' (its certificate is issued by %s)' % peer['issuer'] if peer else ''
    return 'wrong_ca', ('%s: the node%s is not signed by the CA in the talosconfig; '
                        'the talosconfig belongs to another cluster or the node to another OS CA' % (detail, issuer))


def find_ssl_error(exc):
    """The ssl.SSLError behind an exception, following its cause and context chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ssl.SSLError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def describe_tls_error(exc):
    """(reason, why) for a TLS failure other than our own verification of the server."""
    text = getattr(exc, 'reason', None) or str(exc)
    if any(alert in text.upper() for alert in _CLIENT_CERT_ALERTS):
        return 'client_cert_rejected', ('the node refused the client certificate (TLS alert %s): it is not signed by the '
                                        "node's OS CA or lacks the client-authentication usage" % text)
    return 'tls_error', 'the TLS connection failed: %s' % text


async def probe_client_certificate(host, port, context, timeout):
    """(reason, why) when the node drops a fresh TLS connection instead of starting HTTP/2, else None.

    Under TLS 1.3 a server checks the client certificate after the client considers the handshake
    done, so a refusal reaches the client as a lost connection on its first request, and asyncio
    does not pass the TLS alert on. A gRPC server that accepted us sends its HTTP/2 SETTINGS frame
    at once; one that refused us sends an alert or closes without a byte.
    """
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout)
        first = await asyncio.wait_for(reader.read(1), timeout)
    except ssl.SSLError as exc:
        return describe_tls_error(exc)
    except (OSError, asyncio.TimeoutError):
        return None
    finally:
        if writer is not None:
            writer.close()
    if first:
        return None
    return 'client_cert_rejected', ('the node refused the client certificate (it closed the connection right after the TLS '
                                    "handshake): the certificate is not signed by the node's OS CA or lacks the "
                                    'client-authentication usage')
