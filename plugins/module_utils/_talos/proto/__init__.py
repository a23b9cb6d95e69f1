# -*- coding: utf-8 -*-
# Copyright: hybridops.talos contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Our own .proto files for the Talos API subset we use, and the stubs generated from them.

Regenerate with ``.venv/bin/python scripts/gen_talos_proto.py`` after editing a .proto file.
"""
