"""The README's signing example, run as a business would run it, against `tuma local up`."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import running_local

pytestmark = pytest.mark.e2e


def _example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Calling Tuma's API") :]
    return section[
        section.index("```python\n") + len("```python\n") : section.index("\n```", section.index("```python"))
    ]


def test_the_readme_signing_example_works_against_the_local_api() -> None:
    code = _example()
    with running_local() as local:
        key = local.ready["api_key"]
        code = re.sub(
            r'^API_URL = ".*"', f'API_URL = "{local.ready["webhook_base_url"]}/v1"', code, flags=re.M
        )
        code = re.sub(
            r"^KEY_ID, SECRET = .*$", f'KEY_ID, SECRET = "{key["id"]}", "{key["secret"]}"', code, flags=re.M
        )
        namespace: dict[str, Any] = {"__name__": "readme_example"}
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
        call = namespace["call"]
        story = call("GET", "/messages/INV-2024-001")
        assert story.status_code == 200, story.text
        assert story.json()["idempotency_key"] == "INV-2024-001"
        # The example's DELETE of an already queued receipt is refused as such, not as a bad signature.
        assert call("DELETE", "/messages/INV-2024-001").status_code not in (401, 403)
