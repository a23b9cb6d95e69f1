"""A stateful stand-in for the Hetzner Cloud API (see docs/lab.md)."""
