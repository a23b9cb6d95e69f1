"""The examples run against the main lab (its stand-ins and Talos nodes sit at the seed addresses)."""
from lab_fixtures import lab_env  # noqa: F401  pylint: disable=unused-import
