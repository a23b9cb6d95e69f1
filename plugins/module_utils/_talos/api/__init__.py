# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client for the Talos API: gRPC over HTTP/2 with TLS and Ed25519 client certificates (grpclib + ssl)."""
