"""The lab's release downloads: files a real site fetches from the internet, served on loopback over HTTP.

``python -m lab.files CONFIG.json`` serves each file of ``DOWNLOADS`` at the path it has on its real host, so
that the collection's download path (URL template, checksum check) runs unchanged against the lab:

* ``/fluxcd/flux2/releases/download/v2.7.5/install.yaml``: ``flux-v2.7.5-install.yaml.fixture``, a small fixture of
  Flux's install manifest (see its header; not named .yaml because ansible-test's yamllint wants one document per
  file). Its sha256 goes into ``.lab/env`` as ``LAB_FLUX_INSTALL_SHA256``.

Anything else is 404, as GitHub answers for a release asset that does not exist.
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FLUX_VERSION = '2.7.5'
FLUX_RELEASES = '/fluxcd/flux2/releases/download'
DOWNLOADS = {
    '%s/v%s/install.yaml' % (FLUX_RELEASES, FLUX_VERSION): 'flux-v%s-install.yaml.fixture' % FLUX_VERSION,
}


def path_of(url_path):
    name = DOWNLOADS.get(url_path)
    return os.path.join(HERE, name) if name else None


def sha256(name):
    with open(os.path.join(HERE, name), 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def env(host, port):
    """The ``.lab/env`` lines of the file server."""
    base = 'http://%s:%d' % (host, port)
    return {'LAB_FILES_URL': base, 'LAB_FLUX_RELEASES_URL': base + FLUX_RELEASES, 'LAB_FLUX_VERSION': FLUX_VERSION,
            'LAB_FLUX_INSTALL_SHA256': sha256(DOWNLOADS['%s/v%s/install.yaml' % (FLUX_RELEASES, FLUX_VERSION)])}
