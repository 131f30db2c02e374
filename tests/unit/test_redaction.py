from __future__ import annotations

import io
import json
import logging

from tuma.security.redaction import redact, register_secret, scrub_text


def test_echoed_sendbulk_entry_is_redacted_by_key() -> None:
    entry = {
        "response-code": 1003,
        "mobile": "0712345678",
        "apikey": "abc123secret",
        "partnerID": "777",
        "clientsmsid": "5",
        "message": "Receipt for 254712345678",
    }
    clean = redact(entry)
    assert clean["apikey"] == "***"
    assert clean["partnerID"] == "***"
    assert clean["mobile"] == "0712***678"
    assert clean["message"] == "Receipt for 2547*****678"
    assert clean["clientsmsid"] == "5"


def test_numbers_in_free_text_are_masked_in_every_written_form() -> None:
    text = "to 0712345678, +254 712 345 678, 254712345678 and 0110-123-456; order 12345678 stays"
    scrubbed = scrub_text(text)
    assert "345678" not in scrubbed.replace("12345678 stays", "")
    assert "order 12345678 stays" in scrubbed


def test_registered_secrets_never_survive() -> None:
    register_secret("s3cr3t-value-xyz")
    assert scrub_text("key=s3cr3t-value-xyz;") == "key=***;"


def test_powertools_logger_lines_are_scrubbed() -> None:
    from tuma.runtime.observability import build_logger

    stream = io.StringIO()
    logger = build_logger("redaction-test")
    logger.addHandler(logging.StreamHandler(stream))
    for handler in logger.handlers:
        handler.stream = stream  # type: ignore[attr-defined]
    register_secret("zz-top-secret-key")
    logger.info("sending to 0722000000 with zz-top-secret-key", extra={"phone": "254722000000"})
    line = json.loads(stream.getvalue().splitlines()[0])
    assert "0722000000" not in line["message"] and "zz-top-secret-key" not in line["message"]
    assert line["phone"] == "2547*****000"


def test_package_loggers_share_the_scrubbing_formatter() -> None:
    from tuma.runtime.observability import RedactingFormatter, build_logger

    build_logger("tuma-test")
    handlers = logging.getLogger("tuma").handlers
    assert any(isinstance(h.formatter, RedactingFormatter) for h in handlers)
