"""Which Powertools the functions run on, against the one the tests ran on.

Deployed functions take Powertools from AWS's public layer, named by a public SSM parameter of one
release (the template's PowertoolsLayer). Someone may point it at an older release: that may lack
behaviour Tuma relies on, so it is said at cold start rather than discovered in a failed batch.
"""

from __future__ import annotations

import re

from aws_lambda_powertools.shared.version import VERSION as RUNNING

# Kept equal to the pin in pyproject.toml by tests/unit/test_powertools_version.py.
TESTED = "3.37.0"


def release(version: str) -> tuple[int, ...]:
    """`3.37.0` → (3, 37, 0); a pre-release suffix (`3.38.0a1`) counts as its release."""
    return tuple(int(number) for number in re.findall(r"\d+", version)[:3])


def older_than_tested(running: str | None = None) -> str | None:
    """A warning to log when the running Powertools is older than the tested one, else None."""
    running = running or RUNNING
    if release(running) < release(TESTED):
        return (
            f"Powertools {running} is older than {TESTED}, the release Tuma was tested with: "
            "deploy with the PowertoolsLayer parameter at "
            f"/aws/service/powertools/python/arm64/python3.13/{TESTED} or later"
        )
    return None
