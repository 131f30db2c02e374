"""Adapters at the edge: AWS services behind the interfaces of `tuma.ports`."""
