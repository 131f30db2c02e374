"""Adapters at the edge: AWS services behind the small interfaces the domain code uses."""
