"""What a fresh local topology is given before its functions start: the simulators' credentials in
the provider (and Daraja) secrets, and the packaged templates as version 1 of the template store."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tuma_cli.local.provision import Topology, client

if TYPE_CHECKING:
    from tuma_cli.daraja_sandbox.server import DarajaSimulator
    from tuma_cli.sandbox.server import SandboxServer


def fill_credentials(
    topology: Topology,
    endpoint: str,
    sandbox: SandboxServer,
    secondary: SandboxServer | None,
    daraja: DarajaSimulator | None,
) -> None:
    secrets = client("secretsmanager", endpoint)
    simulators = {"ProviderCredentialsSecret": sandbox}
    if secondary is not None:
        simulators["SecondaryCredentialsSecret"] = secondary
    for secret, simulator in simulators.items():
        settings = simulator.platform.settings
        value = {
            "apikey": settings.apikey,
            "partnerID": settings.partner_id,
            "shortcode": settings.shortcode,
            # A promotion works out of the box locally, under the account's second sender ID.
            "promotional_shortcode": settings.promotional_shortcode,
        }
        secrets.put_secret_value(SecretId=topology.ref(secret), SecretString=json.dumps(value))
    if daraja is not None and "DarajaSecret" in topology.resources:
        secrets.put_secret_value(
            SecretId=topology.ref("DarajaSecret"), SecretString=json.dumps(daraja.platform.secret())
        )


def seed_api_key(topology: Topology, endpoint: str) -> dict[str, str]:
    """One API key with every scope, as `tuma keys create` would make it: what the demo, the tests
    and `tuma local` users sign with (the READY information has it)."""
    if "ApiKeysSecret" not in topology.resources:
        return {}
    from tuma.models.api_keys import Scope

    from tuma_cli.keys_cli import new_key, stored

    key = new_key(set(Scope), "local")
    client("secretsmanager", endpoint).put_secret_value(
        SecretId=topology.ref("ApiKeysSecret"), SecretString=json.dumps({"keys": [stored(key)]})
    )
    return {"id": key.id, "secret": key.secret.get_secret_value()}


def seed_templates(topology: Topology, endpoint: str) -> None:
    """The packaged templates become version 1 in the store, as a business's first edit would start
    from them: the demo renders through the same store as a deployed stack."""
    if "TemplatesTable" not in topology.resources:
        return
    from tuma.adapters.dynamodb_templates import DynamoDBTemplates
    from tuma.services.templates import TemplateEditor

    store = DynamoDBTemplates(client("dynamodb", endpoint), topology.ref("TemplatesTable"))
    TemplateEditor(store, max_parts=3).seed()
