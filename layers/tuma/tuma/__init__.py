"""Tuma: business events to SMS. Domain code and adapters shared by every function (the Lambda layer)."""

import logging

# Registered early so that a function's Powertools Logger can hand its formatter to the package.
logging.getLogger("tuma").addHandler(logging.NullHandler())

__version__ = "0.1.0"
