"""A template kind is described once (tuma.models.kinds): the lanes, the operator kinds, the dedupe
default and the guards' category are read from its entry, and its packaged wording passes its checks."""

from __future__ import annotations

import pytest
from tuma.formatting.rendering import packaged
from tuma.models.kinds import KINDS
from tuma.models.outbox import OutboxMessage
from tuma.models.privacy import MessageCategory
from tuma.models.sending import ProviderRoute
from tuma.services.send_path.planning import ALERT_TEMPLATES, _category
from tuma.services.templates import validate


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_travels_as_its_entry_says(name: str) -> None:
    kind = KINDS[name]
    message = OutboxMessage.model_validate(
        {"idempotency_key": "k", "to": ["0712345678"], "template": name, "data": dict(kind.best)}
    )
    assert message.fast is kind.fast
    assert message.per_event is kind.per_event
    assert (name in ALERT_TEMPLATES) is kind.operator
    assert _category(name, ProviderRoute.SMS) == kind.guard
    assert not (kind.operator and kind.category is MessageCategory.PROMOTIONAL)


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("language", ["en", "sw"])
def test_each_kind_ships_wording_its_own_checks_accept(name: str, language: str) -> None:
    text = packaged()[(name, language)]
    verdict = validate(name, text, max_parts=3)
    assert verdict.ok, verdict.reasons
