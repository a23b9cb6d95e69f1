"""The local lab: stand-ins for the remote APIs the collection talks to (not shipped in the collection).

``python -m lab up|down|status`` from the repository root; see docs/lab.md.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# LAB_STATE_DIR lets a second lab (e.g. a test of the CLI itself) run beside the main one.
STATE_DIR = os.environ.get('LAB_STATE_DIR') or os.path.join(ROOT, '.lab')
