"""Lambda's Invoke API, locally: `POST /2015-03-31/functions/{name}/invocations` runs one of the
topology's functions once, in its own worker, with the event in the body.

boto3's Lambda client pointed at it (READY's `lambda_endpoint_url`) works as against AWS, so
`tuma local invoke` and `tuma doctor --local` invoke the local functions as `sam remote invoke` and
`tuma doctor --stack` invoke the deployed ones. A function is named by its directory
(`balance_monitor`), its logical id (`BalanceMonitorFunction`) or its local physical name
(`tuma-local-BalanceMonitorFunction`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from tuma_cli.local.worker import InvocationError
from tuma_cli.loopback import LoopbackHandler, LoopbackServer

log = logging.getLogger(__name__)
_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
MAX_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous payload limit


class _Server(LoopbackServer):
    api: LambdaApi


class _Handler(LoopbackHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - the stdlib dispatches on this name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if 0 < length <= MAX_PAYLOAD else b""
        status, body, headers = self.server.api.handle(urlsplit(self.path).path, raw)
        self.reply(status, body, {"Content-Type": "application/json"} | headers)


class LambdaApi:
    def __init__(
        self, functions: Mapping[str, Callable[[dict[str, Any]], Any]], names: Mapping[str, str]
    ) -> None:
        """`functions` by directory name; `names` maps every other name of a function to its directory."""
        self._functions = functions
        self._names = dict(names)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LambdaApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, path: str, raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        match = _INVOKE.match(path)
        if match is None:
            return 404, b'{"message": "not found"}', {}
        name = unquote(match.group("name")).rsplit(":function:", 1)[-1]
        directory = self._names.get(name, name)
        function = self._functions.get(directory)
        if function is None:
            problem = {"Type": "User", "Message": f"Function not found: {name}"}
            return 404, json.dumps(problem).encode(), {"x-amzn-ErrorType": "ResourceNotFoundException"}
        try:
            event = json.loads(raw) if raw else {}
        except ValueError:
            return (
                400,
                b'{"Type": "User", "Message": "the payload is not JSON"}',
                {"x-amzn-ErrorType": "InvalidRequestContentException"},
            )
        try:
            result = function(event)
        except InvocationError as error:
            # As Lambda answers a function error: 200, the error in the payload, and a header.
            payload = {"errorMessage": str(error), "errorType": "FunctionError"}
            return 200, json.dumps(payload).encode(), {"X-Amz-Function-Error": "Unhandled"}
        return 200, json.dumps(result, default=str).encode(), {"X-Amz-Executed-Version": "$LATEST"}
