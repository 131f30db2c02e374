"""Write docs/openapi.json: the OpenAPI document Powertools generates from functions/webhooks.

The webhook function is imported with placeholder configuration (nothing is called at import).
A test fails when the published document and the code disagree.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate() -> str:
    placeholders = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "OUTBOX_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/outbox",
        "LEDGER_TABLE": "ledger",
        "WEBHOOK_SECRET": "webhook",
        "API_KEYS_SECRET": "api-keys",
        "STATE_TABLE": "state",
        "DARAJA_CALLBACK_IPS": "open",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "tuma",
    }
    for key, value in placeholders.items():
        os.environ.setdefault(key, value)
    from tuma_cli.local.functions import load_module

    webhooks = load_module(ROOT / "functions" / "webhooks")
    document = json.loads(webhooks.openapi_json(title="Tuma webhooks", version="1"))
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> int:
    target = ROOT / "docs" / "openapi.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(generate())
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
