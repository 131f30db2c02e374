"""`tuma console`: the operator's web page, served on 127.0.0.1 only, reading and acting with the
operator's own AWS credentials (or against `tuma local up`).

Server-rendered (Starlette, Jinja2 with autoescape); readable with JavaScript off. Every action is a
POST carrying the session's CSRF token, from a page of this console (Host and Origin are checked). A
phone number the operator types travels in a POST body only and never comes back unmasked.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from tuma.formatting.clock import EAT
from tuma.models.kinds import KINDS
from tuma.models.ledger import Status
from tuma.models.sources import LEDGER_SOURCES

from tuma_cli.console.backend import REDRIVEN, Backend, ConsoleError

log = logging.getLogger(__name__)
CSRF_COOKIE = "tuma_csrf"
_pending: dict[str, tuple[float, str]] = {}  # resend confirmations: token -> (expiry, number typed)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("tuma_cli.console", "templates"), autoescape=select_autoescape(["html"])
    )
    env.filters["urlkey"] = lambda key: quote(str(key), safe="")
    env.filters["eat"] = lambda moment: (
        moment.astimezone(EAT).strftime("%d/%m/%Y %H:%M:%S") if moment else "-"
    )
    return env


class Guard(BaseHTTPMiddleware):
    """Only this machine's own pages may act: the Host must be the console's address, an Origin
    (when the browser sends one) too; every POST must also carry the session's token (checked in
    `Console.guarded`)."""

    def __init__(self, app: Any, port: int) -> None:
        super().__init__(app)
        self._hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.headers.get("host") not in self._hosts:
            return PlainTextResponse("this console answers on its own address only", status_code=421)
        origin = request.headers.get("origin")
        if origin and origin.removeprefix("http://") not in self._hosts:
            return PlainTextResponse("requests from other sites are refused", status_code=403)
        token = request.cookies.get(CSRF_COOKIE)
        # (The token of a POST is checked by the page's handler: reading the form here would use up
        # the body before the handler sees it.) A first visit gets its token now: in the page and in the cookie that goes with it.
        request.state.csrf = token or secrets.token_urlsafe(32)
        response = await call_next(request)
        if not token:
            response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=True, samesite="strict")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        # same-origin, not no-referrer: with no-referrer the browser sends "Origin: null" on our own forms.
        response.headers["Referrer-Policy"] = "same-origin"
        return response


class Console:
    """The pages: each handler reads or acts through the backend and renders one template."""

    def __init__(self, backend: Backend, where: str) -> None:
        self.backend = backend
        self.where = where
        self.env = _environment()

    def page(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        token = getattr(request.state, "csrf", "")
        html = self.env.get_template(template).render(
            csrf=token, where=self.where, path=request.url.path, **context
        )
        return HTMLResponse(html, status_code=status_code)

    def guarded(self, handler: Any) -> Any:
        async def run(request: Request) -> Response:
            if request.method == "POST":
                form = await request.form()  # parsed once; the handler reads the same form
                token = request.cookies.get(CSRF_COOKIE, "")
                if not token or not hmac.compare_digest(token, str(form.get("csrf", ""))):
                    return PlainTextResponse(
                        "this form has expired: reload the page and try again", status_code=403
                    )
            try:
                response: Response = await handler(request)
                return response
            except ConsoleError as exc:
                return self.page(request, "error.html", 400, problem=str(exc))
            except Exception as exc:  # AWS refused, no credentials, throttled: said on the page
                log.warning("console action failed: %s", type(exc).__name__)
                return self.page(request, "error.html", 503, problem=_aws_problem(exc))

        return run

    async def messages(self, request: Request) -> Response:
        query = request.query_params
        today = datetime.now(UTC).astimezone(EAT).date().isoformat()
        day, status, source = query.get("day") or today, query.get("status") or "", query.get("source") or ""
        started = time.perf_counter()
        found = self.backend.page(day, status, source, query.get("cursor"))
        return self.page(
            request,
            "messages.html",
            entries=found.entries,
            cursor=found.cursor,
            day=day,
            status=status,
            source=source,
            statuses=[s.value for s in Status],
            sources=LEDGER_SOURCES,
            took=time.perf_counter() - started,
        )

    async def search(self, request: Request) -> Response:
        form = await request.form()
        entries, shown = self.backend.search(str(form.get("q", "")))
        keys = sorted({e.idempotency_key for e in entries})
        if len(keys) == 1:
            return RedirectResponse(f"/messages/{quote(keys[0], safe='')}", status_code=303)
        return self.page(request, "search.html", entries=entries, shown=shown)

    async def message(self, request: Request) -> Response:
        story = self.backend.story(request.path_params["key"])
        if not story.entries and not story.scheduled and not story.resend_of:
            return self.page(request, "error.html", 404, problem="No message under that key.")
        return self.page(request, "message.html", story=story)

    async def resend(self, request: Request) -> Response:
        key = request.path_params["key"]
        form = await request.form()
        ref = str(form.get("recipient_ref", ""))
        if form.get("confirm") != "yes":
            number = str(form.get("number", "")).strip()
            token = secrets.token_urlsafe(16)
            _pending[token] = (time.monotonic() + 600, number)
            entry = next((e for e in self.backend.ledger.get(key) if e.recipient_ref == ref), None)
            shown = backend_masked(number) if number else "the number Tuma keeps for this payer"
            return self.page(request, "resend.html", key=key, entry=entry, ref=ref, token=token, shown=shown)
        expiry, number = _pending.pop(str(form.get("token", "")), (0.0, ""))
        if expiry < time.monotonic():
            raise ConsoleError("this confirmation has expired: start the resend again")
        new_key = self.backend.resend(key, ref, number or None)
        return RedirectResponse(f"/messages/{quote(new_key, safe='')}", status_code=303)

    async def cancel(self, request: Request) -> Response:
        key = request.path_params["key"]
        outcome = self.backend.cancel(key)
        back = f"/messages/{quote(key, safe='')}"
        return self.page(request, "done.html", title="Cancel", message=f"{key}: {outcome.value}", back=back)

    async def payments(self, request: Request) -> Response:
        today = datetime.now(UTC).astimezone(EAT).date().isoformat()
        day = request.query_params.get("day") or today
        return self.page(request, "payments.html", view=self.backend.payments(day), day=day)

    async def ask_mpesa(self, request: Request) -> Response:
        key = request.path_params["key"]
        asked = self.backend.ask_mpesa(key)
        back = f"/messages/{quote(key, safe='')}"
        if not asked.ok:
            raise ConsoleError(
                f"M-Pesa was not asked: {asked.description}" + (f" ({asked.fix})" if asked.fix else "")
            )
        message = (
            f"M-Pesa was asked about {key}. Its answer arrives in a few seconds: reload the message page. "
            "A payment Tuma never saw gets its receipt then."
        )
        return self.page(request, "done.html", title="Ask M-Pesa", message=message, back=back)

    async def health(self, request: Request) -> Response:
        return self.page(request, "health.html", health=self.backend.health(), guards=self.backend.guards())

    async def pause(self, request: Request) -> Response:
        form = await request.form()
        category = str(form.get("category", "")) or None
        paused = self.backend.switches().pause(category)
        return self.page(
            request, "done.html", title="Paused", message=f"Paused: {', '.join(paused)}.", back="/health"
        )

    async def resume(self, request: Request) -> Response:
        self.backend.switches().resume(None)
        message = "Sending again: waiting messages go within two minutes, each once."
        return self.page(request, "done.html", title="Resumed", message=message, back="/health")

    async def caps(self, request: Request) -> Response:
        form = await request.form()
        changes = {}
        for name in ("daily_parts", "receipt_daily_parts", "monthly_parts"):
            try:
                changes[name] = max(0, int(str(form.get(name, "0")) or 0))
            except ValueError:
                raise ConsoleError(f"{name.replace('_', ' ')} must be a whole number") from None
        self.backend.switches().set_caps(changes)
        return self.page(request, "done.html", title="Caps", message="The caps are saved.", back="/health")

    async def redrive(self, request: Request) -> Response:
        moved, by_sqs = self.backend.redrive()
        message = f"{moved} message(s) sent back to the outbox queue: {REDRIVEN[by_sqs]}."
        return self.page(request, "done.html", title="Dead letters", message=message, back="/health")

    # -- the people Tuma texts: the suppression list and consents --------------------------------
    # Numbers come in by POST only and go out masked: never in a URL, never whole on a page.

    async def people(self, request: Request) -> Response:
        records = self.backend.privacy().everything(500)
        return self.page(request, "people.html", records=records, checked=None)

    def _person(self, number: str) -> Any:
        from tuma.services.privacy import InvalidEntry

        try:
            return self.backend.privacy().person(number)
        except InvalidEntry as exc:
            raise ConsoleError(f"That number cannot be used: {exc.reason}.") from None

    async def suppress(self, request: Request) -> Response:
        from tuma.models.privacy import Scope, SuppressionSource

        form = await request.form()
        person = self._person(str(form.get("number", "")))
        scope = Scope.ALL if form.get("scope") == "all" else Scope.PROMOTIONAL
        reason = str(form.get("reason", "")).strip()[:200] or "asked to stop"
        added = self.backend.privacy().suppress(person, scope, reason, SuppressionSource.OPERATOR)
        what = "any message" if scope is Scope.ALL else "promotions"
        message = (
            f"{person.masked} will get no more {what}."
            if added
            else f"{person.masked} was already stopped for {what}."
        )
        return self.page(request, "done.html", title="Suppression list", message=message, back="/people")

    async def unsuppress(self, request: Request) -> Response:
        from tuma.models.privacy import Scope
        from tuma.services.privacy import Person

        form = await request.form()
        key, masked = str(form.get("key", "")), str(form.get("masked", ""))
        scope = Scope(str(form["scope"])) if form.get("scope") in ("promotional", "all") else None
        removed = self.backend.privacy().unsuppress(Person(key, masked), scope)
        message = f"{masked} can be sent to again ({', '.join(removed) or 'nothing was stopped'})."
        return self.page(request, "done.html", title="Suppression list", message=message, back="/people")

    async def consent(self, request: Request) -> Response:
        form = await request.form()
        person = self._person(str(form.get("number", "")))
        wording = str(form.get("wording", "")).strip()[:500]
        if not wording:
            raise ConsoleError("Say what the customer agreed to (the words they saw).")
        source = str(form.get("source", "")).strip()[:64] or "operator"
        self.backend.privacy().consent(person, source, wording)
        message = f"Consent recorded for {person.masked}: promotions may go to this number."
        return self.page(request, "done.html", title="Consents", message=message, back="/people")

    async def withdraw(self, request: Request) -> Response:
        from tuma.services.privacy import Person

        form = await request.form()
        key, masked = str(form.get("key", "")), str(form.get("masked", ""))
        withdrawn = self.backend.privacy().withdraw(Person(key, masked))
        message = f"{masked}: consent withdrawn." if withdrawn else f"{masked} had no consent on record."
        return self.page(request, "done.html", title="Consents", message=message, back="/people")

    async def check(self, request: Request) -> Response:
        form = await request.form()
        person = self._person(str(form.get("number", "")))
        record = self.backend.privacy().check(person)
        records = self.backend.privacy().everything(500)
        return self.page(request, "people.html", records=records, checked=record)

    async def templates(self, request: Request) -> Response:
        catalog = self.backend.editor.catalog()
        return self.page(
            request, "templates.html", templates=catalog.all(), routing=catalog.routing, kinds=KINDS
        )

    async def template(self, request: Request) -> Response:
        editor = self.backend.editor
        name, language = request.path_params["name"], request.path_params["language"]
        current = editor.current(name, language)
        text, preview, saved, problems = (current.text if current else ""), None, None, []
        if request.method == "POST":
            form = await request.form()
            text = str(form.get("text", ""))
            if form.get("action") == "save":
                verdict, saved = editor.put(name, language, text, note=str(form.get("note", "")) or None)
                problems, current = verdict.reasons, saved or current
            try:
                preview = editor.preview(name, language, text=text)
                problems = problems or preview.verdict.reasons
            except Exception as exc:  # a template that cannot even be previewed says why
                problems = problems or [str(getattr(exc, "reason", exc))]
        elif current:
            preview = editor.preview(name, language)
        return self.page(
            request,
            "template.html",
            name=name,
            language=language,
            text=text,
            current=current,
            preview=preview,
            problems=problems,
            saved=saved,
            history=editor.history(name, language),
            kinds=KINDS,
        )

    async def use_version(self, request: Request) -> Response:
        name, language = request.path_params["name"], request.path_params["language"]
        form = await request.form()
        chosen = self.backend.editor.use(name, language, int(str(form.get("version", "0"))))
        message = f"{name} ({language}) is back at version {chosen.version}."
        return self.page(
            request, "done.html", title="Templates", message=message, back=f"/templates/{name}/{language}"
        )


def create_app(backend: Backend, port: int, where: str) -> Starlette:
    console = Console(backend, where)
    g = console.guarded
    static = resources.files("tuma_cli.console") / "static"
    return Starlette(
        routes=[
            Route("/", g(console.messages)),
            Route("/search", g(console.search), methods=["POST"]),
            Route("/messages/{key:path}/resend", g(console.resend), methods=["POST"]),
            Route("/messages/{key:path}/cancel", g(console.cancel), methods=["POST"]),
            Route("/messages/{key:path}/ask", g(console.ask_mpesa), methods=["POST"]),
            Route("/messages/{key:path}", g(console.message)),
            Route("/payments", g(console.payments)),
            Route("/health", g(console.health)),
            Route("/health/redrive", g(console.redrive), methods=["POST"]),
            Route("/health/pause", g(console.pause), methods=["POST"]),
            Route("/health/resume", g(console.resume), methods=["POST"]),
            Route("/health/caps", g(console.caps), methods=["POST"]),
            Route("/people", g(console.people)),
            Route("/people/suppress", g(console.suppress), methods=["POST"]),
            Route("/people/unsuppress", g(console.unsuppress), methods=["POST"]),
            Route("/people/consent", g(console.consent), methods=["POST"]),
            Route("/people/withdraw", g(console.withdraw), methods=["POST"]),
            Route("/people/check", g(console.check), methods=["POST"]),
            Route("/templates", g(console.templates)),
            Route("/templates/{name}/{language}/use", g(console.use_version), methods=["POST"]),
            Route("/templates/{name}/{language}", g(console.template), methods=["GET", "POST"]),
            Mount("/static", StaticFiles(directory=str(static)), name="static"),
        ],
        middleware=[Middleware(Guard, port=port)],
    )


def backend_masked(number: str) -> str:
    from tuma.formatting.phones import InvalidNumber, parse_recipient

    try:
        return parse_recipient(number).masked
    except InvalidNumber as exc:
        return f"(not a usable number: {exc.reason})"


def _aws_problem(exc: BaseException) -> str:
    from tuma.errors import Unavailable

    if isinstance(exc, Unavailable) and exc.__cause__ is not None:
        exc = exc.__cause__  # an adapter's translation: what AWS itself said tells the operator more
    name = type(exc).__name__
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""
    if name == "NoCredentialsError":
        return "No AWS credentials were found: sign in (aws sso login, or set AWS_PROFILE) and reload."
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        return "AWS refused: your credentials may not read or change this stack. Ask for the stack's operator policy (output OperatorPolicyArn)."
    if code in ("ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"):
        return "AWS is busy (throttling): wait a few seconds and reload."
    if name in ("EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError"):
        return "AWS could not be reached: check the network (or that `tuma local up` still runs) and reload."
    return f"Something went wrong talking to AWS ({name}{': ' + code if code else ''}). Reload to try again."
