"""The review web app: FastAPI, server-rendered Jinja2 templates, htmx; no build step, no CDN.

Pages: ``/login``; ``/queue`` (the next cases for you); ``/cases/{id}`` (context, action, the
verdict with its explanation and precedents, allow/block, principle tags, a corrected response
and a comment; keyboard: a allow, b block, n next); ``/pairwise`` (pick the better of two
responses); ``/admin`` (queue size and age, reviews per day, Cohen and Fleiss kappa,
judge-vs-human agreement over time, contested cases, model versions; admins only).

Security: passwords are scrypt hashes (:mod:`accord.review.users`); sessions are HMAC-signed
cookies that stop working when the user signs out, gets a new password or is disabled (checked in
the store on every request, so in every worker process); failed sign-ins are counted in the store
and throttle the account and the address (:mod:`accord.review.sessions`); every form carries a CSRF token and every POST without the right one is refused (403);
a page asked for without a session redirects to ``/login`` (a request from script gets 401); a
reviewer asking for an admin page gets 403. Model text is data: Jinja2 autoescaping is on for
every template, no template marks model text safe, and a Content-Security-Policy allows scripts
only from the app itself, so an injected ``<script>`` would not run even if it were not escaped.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.charter.model import Charter
from accord.errors import AccordError, InputError
from accord.judges.value_model import ValueModel
from accord.review.dashboard import MIN_SHARED_ITEMS, build_dashboard, judge_leaning
from accord.review.pairs import get_pair, next_pair, record_preference
from accord.review.queue import QueueConfig, next_item, open_items, visible_to
from accord.review.retrain import DEFAULT_NAME, IncrementalLearner, current_model_path, rollback
from accord.review.sessions import EndedSessions, SigninFailures
from accord.review.users import User, Users
from accord.server.review.security import (
    COOKIE,
    LoginThrottle,
    Session,
    Signer,
    csrf_ok,
    inert_bidi,
)
from accord.store import ReviewItem, Store

MAX_TEXT = 20_000
#: what a reviewer can answer: allow, block, "depends on the community" (with the communities it is
#: acceptable for) and "needs discussion"; the last two teach the gate to escalate similar cases
REVIEW_ANSWERS = ("allow", "block", "depends", "discuss")
ANSWER_TEXT = {"allow": "allow", "block": "block", "depends": "depends on the community", "discuss": "needs discussion"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class _Unauthenticated(Exception):
    pass


class _Forbidden(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


class _NotFound(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


_STATUS_TITLES = {404: "Not found", 405: "Not allowed here", 400: "That did not work"}


def _wants_json(request: Request) -> bool:
    """API paths and clients that do not ask for HTML get JSON errors; browsers get a page."""
    if request.url.path.startswith(("/api/", "/healthz", "/static/")):
        return True
    return "text/html" not in request.headers.get("accept", "") and not request.headers.get("HX-Request")


def _age(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    s = int(delta.total_seconds())
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


@dataclass
class ReviewApp:
    """The app's state: store, charter, queue policy, users, the model in use and the incremental learners."""

    store: Store
    charter: Charter
    signer: Signer
    queue: QueueConfig = field(default_factory=QueueConfig)
    model_dir: Path | None = None
    model_name: str = DEFAULT_NAME
    incremental: Sequence[IncrementalLearner] = ()
    secure_cookies: bool = False
    _models: dict[str, ValueModel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.users = Users(self.store)

    def model(self) -> ValueModel | None:
        """The value model in use: the registry's current version, else ``model_dir``; cached per path."""
        path = current_model_path(self.store, self.model_name) or self.model_dir
        if path is None:
            return None
        key = str(path)
        if key not in self._models:
            try:
                self._models = {key: ValueModel.load(path)}
            except AccordError:
                return None
        return self._models[key]


def create_app(store: Store, charter: Charter, *, secret: bytes, queue: QueueConfig | None = None,
               model_dir: str | Path | None = None, model_name: str = DEFAULT_NAME,
               incremental: Sequence[IncrementalLearner] = (), secure_cookies: bool = False,
               drift: Any = None) -> FastAPI:
    """The review web app over a store.

    Args:
        store: the audit store (queue, reviews, users, model registry).
        charter: principles offered as tags and used for routing by community.
        secret: the key that signs session cookies (keep it stable across restarts).
        queue: queue policy (double-review share, order).
        model_dir: the model to show live scores and precedents with, when the registry has
            no version of ``model_name`` in use.
        incremental: learners whose ``maybe_update`` runs in the background after each review
            (one per registered model to keep taught, e.g. ``default`` and ``strong``).
        secure_cookies: mark the session cookie ``Secure`` (behind HTTPS).
        drift: a :class:`~accord.monitor.DriftMonitor` whose latest report the dashboard shows
            (a drift panel with charts) and ``/metrics`` exposes (``accord_drift_*``).
    """
    state = ReviewApp(store, charter, Signer(secret), queue or QueueConfig(), Path(model_dir) if model_dir else None,
                      model_name, incremental, secure_cookies)
    env = Environment(loader=PackageLoader("accord.server.review", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True), finalize=inert_bidi)
    env.filters["age"] = _age
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.0%}"
    env.filters["num"] = lambda v, nd=3: "—" if v is None else f"{v:.{nd}f}"
    env.globals["quote"] = quote
    env.globals["answer_text"] = lambda d: ANSWER_TEXT.get(d, d)

    app = FastAPI(title="accord review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.review = state
    throttle = app.state.login_throttle = LoginThrottle(clock=time.time, counts=SigninFailures(store))
    ended = EndedSessions(store)
    hashing = threading.BoundedSemaphore(1)  # one scrypt at a time (each takes ~64 MiB and a core)

    def _authenticate(name: str, password: str) -> User | None:
        with hashing:
            return state.users.authenticate(name, password)
    app.state.drift = drift
    drift_registry = None
    if drift is not None:
        from prometheus_client import CollectorRegistry

        from accord.monitor import register_drift_metrics

        drift_registry = CollectorRegistry(auto_describe=True)
        register_drift_metrics(drift_registry, drift)
    static = Path(str(resources.files("accord.server.review").joinpath("static")))
    app.mount("/static", StaticFiles(directory=static), name="static")

    # ------------------------------------------------------------------ plumbing
    def session_of(request: Request) -> Session:
        s = getattr(request.state, "session", None)
        if s is None:
            s = state.signer.loads(request.cookies.get(COOKIE)) or Session()
            request.state.session = s
        return s

    def signed_in(request: Request) -> User | None:
        """The session's user, or ``None`` (and an empty session from here on) when there is none or
        the session has ended: signed out, a new password set or the user disabled since."""
        if hasattr(request.state, "user"):
            return request.state.user
        s = session_of(request)
        u = state.users.get(s.user) if s.user else None
        if u is not None and (not u.active or s.epoch is None or s.epoch != state.users.credential_epoch(u.name)
                              or ended.ended(s.sid)):
            u = None
        if u is None and s.user:
            request.state.session = Session()
        request.state.user = u
        return u

    def current_user(request: Request) -> User:
        u = signed_in(request)
        if u is None:
            raise _Unauthenticated()
        return u

    def admin(request: Request) -> User:
        u = current_user(request)
        if not u.is_admin:
            raise _Forbidden("this page is for admins")
        return u

    def finish(request: Request, resp: Response) -> Response:
        s = session_of(request)
        if s.dirty:
            resp.set_cookie(COOKIE, state.signer.dumps(s), max_age=state.signer.max_age_s, httponly=True,
                            samesite="lax", secure=state.secure_cookies, path="/")
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def page(request: Request, template: str, status: int = 200, **ctx: Any) -> Response:
        user = signed_in(request)
        s = session_of(request)
        html = env.get_template(template).render(request=request, csrf=s.csrf, user=user, charter=state.charter, **ctx)
        return finish(request, HTMLResponse(html, status_code=status))

    def go(request: Request, url: str) -> Response:
        """Redirect; for htmx requests an ``HX-Redirect`` so the whole page navigates."""
        if request.headers.get("HX-Request"):
            return finish(request, Response(status_code=200, headers={"HX-Redirect": url}))
        return finish(request, RedirectResponse(url, status_code=303))

    async def form_of(request: Request) -> Any:
        form = await request.form()
        token = form.get("csrf") or request.headers.get("X-CSRF-Token")
        if not csrf_ok(session_of(request), str(token) if token else None):
            raise _Forbidden("the form's CSRF token is missing or wrong; reload the page and try again")
        return form

    @app.exception_handler(_Unauthenticated)
    async def _unauth(request: Request, exc: _Unauthenticated) -> Response:
        if request.method == "GET" and not request.headers.get("HX-Request"):
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return finish(request, RedirectResponse(f"/login?next={quote(nxt, safe='')}", status_code=303))
        return finish(request, PlainTextResponse("sign in first", status_code=401))

    @app.exception_handler(_Forbidden)
    async def _forbidden(request: Request, exc: _Forbidden) -> Response:
        return page(request, "message.html", status=403, title="Not allowed", message=exc.message)

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> Response:
        return page(request, "message.html", status=400, title="That did not work", message=exc.message)

    @app.exception_handler(_NotFound)
    async def _not_found(request: Request, exc: _NotFound) -> Response:
        return page(request, "message.html", status=404, title="Not found", message=exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = ("There is no page at this address." if exc.status_code == 404 else str(exc.detail))
        if _wants_json(request):
            resp: Response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
            for k, v in (exc.headers or {}).items():
                resp.headers[k] = v
            return finish(request, resp)
        return page(request, "message.html", status=exc.status_code,
                    title=_STATUS_TITLES.get(exc.status_code, f"Error {exc.status_code}"), message=message)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/cases/"):  # /cases/abc: there is no such case
            return page(request, "message.html", status=404, title="Not found",
                        message="There is no case at this address.")
        if _wants_json(request):
            return finish(request, JSONResponse({"detail": "bad request"}, status_code=400))
        return page(request, "message.html", status=400, title="That did not work",
                    message="The address or form has a value this page cannot use.")

    # ------------------------------------------------------------------ sign in
    @app.get("/healthz")
    def healthz() -> Response:
        return JSONResponse({"ok": True})

    @app.get("/login")
    def login_form(request: Request, next: str = "/queue") -> Response:
        return page(request, "login.html", next=_local(next), error=None)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await form_of(request)
        name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        nxt = _local(str(form.get("next", "/queue")))
        keys = (f"user:{name.lower()}", f"addr:{request.client.host if request.client else '?'}")
        wait = await asyncio.to_thread(throttle.wait_s, *keys)  # the counts are in the store
        if wait > 0:  # refused before any password work, the right password included
            state.store.audit("review.signin_throttled", name[:64] or "?", {"wait_s": round(wait, 1)})
            resp = page(request, "login.html", status=429, next=nxt,
                        error=f"Too many failed sign-ins. Try again in {math.ceil(wait)} s.")
            resp.headers["Retry-After"] = str(math.ceil(wait))
            return resp
        user = await asyncio.to_thread(_authenticate, name, password)  # scrypt off the event loop
        if user is None:
            await asyncio.to_thread(throttle.failed, *keys)
            await asyncio.sleep(0.2)
            return page(request, "login.html", status=401, next=nxt, error="Wrong name or password.")
        await asyncio.to_thread(throttle.succeeded, keys[0])
        # a fresh session (id, CSRF token) on sign-in, bound to the user's credentials as they are now
        request.state.session = Session(user=user.name, epoch=state.users.credential_epoch(user.name))
        request.state.user = user
        state.store.audit("review.signin", user.name, {})
        return go(request, nxt)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await form_of(request)
        s = session_of(request)
        if s.user:  # the cookie stops working everywhere, also a copy of it kept elsewhere
            ended.end(s.sid, s.user)
            state.store.audit("review.signout", s.user, {})
        request.state.session = Session()
        request.state.user = None
        return go(request, "/login")

    # ------------------------------------------------------------------ queue
    @app.get("/")
    def root(request: Request) -> Response:
        current_user(request)
        return go(request, "/queue")

    def _queue(user: User, f: QueueFilter | None = None) -> list[ReviewItem]:
        f = f or QueueFilter()
        items = open_items(state.store, state.queue, reviewer=user.name, communities=user.communities,
                           model=state.model() if state.queue.order == "active" else None,
                           limit=None if f.active else 50)
        return f.apply(items)[:50]

    def _filter(q: str, principle: str, community: str, sort: str) -> QueueFilter:
        return QueueFilter(q=q.strip()[:200], principle=principle if principle in state.charter.principle_ids else "",
                           community=community if community in ("(none)", *state.charter.communities) else "",
                           sort=sort if sort in QUEUE_SORTS else "queue")

    @app.get("/queue")
    def queue_page(request: Request, q: str = "", principle: str = "", community: str = "",
                   sort: str = "queue") -> Response:
        user = current_user(request)
        f = _filter(q, principle, community, sort)
        return page(request, "queue.html", items=_queue(user, f), now=datetime.now(UTC), order=state.queue.order,
                    stats=state.store.stats(), f=f, sorts=QUEUE_SORTS)

    @app.get("/queue/rows")
    def queue_rows(request: Request, q: str = "", principle: str = "", community: str = "",
                   sort: str = "queue") -> Response:
        user = current_user(request)
        return page(request, "_queue_rows.html", items=_queue(user, _filter(q, principle, community, sort)),
                    now=datetime.now(UTC))

    @app.get("/next")
    def next_case(request: Request, skip: str = "", saved: str = "") -> Response:
        user = current_user(request)
        skipped = [int(x) for x in skip.split(",") if x.isdigit()][-200:]
        it = next_item(state.store, state.queue, reviewer=user.name, communities=user.communities,
                       model=state.model() if state.queue.order == "active" else None, skip=skipped)
        if it is None:
            done = _saved(user, saved)
            return page(request, "message.html", title="The queue is empty",
                        message="Nothing is waiting for you. Thank you!", link=("/pairwise", "Compare responses"),
                        saved=done)
        query = "&".join(q for q in (f"skip={','.join(map(str, skipped))}" if skipped else "",
                                     f"saved={saved}" if saved.isdigit() else "") if q)
        return go(request, f"/cases/{it.id}" + (f"?{query}" if query else ""))

    # ------------------------------------------------------------------ a case
    def _item_for(user: User, item_id: int) -> ReviewItem:
        it = state.store.review_item(item_id)
        if it is None:
            raise _NotFound(f"There is no case #{item_id} in the review queue.")
        if not user.is_admin and not visible_to(it, user.communities):
            raise _Forbidden("this case is routed to another community's reviewers")
        return it

    @app.get("/cases/{item_id}")
    def case_page(request: Request, item_id: int, skip: str = "", saved: str = "") -> Response:
        user = current_user(request)
        it = _item_for(user, item_id)
        case, verdict = it.case, it.verdict
        mine = [r for r in state.store.reviews(item_id) if r.reviewer == user.name]
        others = [r for r in state.store.reviews(item_id) if r.reviewer != user.name] if user.is_admin else []
        model = state.model()
        live: dict[str, Any] | None = None
        if model is not None:
            try:
                p = float(model.predict_proba([case])[0, 1])
                live = {"p": p, "version": model.version,
                        "precedents": model.precedents(case, k=3) if not verdict.explanation.precedents else []}
            except Exception:  # a live score is a courtesy; the stored verdict is what was decided
                live = None
        skipped = [x for x in skip.split(",") if x.isdigit()]
        next_skip = ",".join([*skipped, str(item_id)][-200:])
        # one leaning, from the number shown beside it: the judge in use now when there is one
        lean = ("block" if live["p"] > 0.5 else "allow") if live else judge_leaning(it.verdict_json)
        return page(request, "case.html", item=it, case=case, verdict=verdict, mine=mine[-1] if mine else None,
                    others=others, live=live, lean=lean, next_skip=next_skip,
                    saved=_saved(user, saved), skip=",".join(skipped))

    def _saved(user: User, saved: str) -> dict[str, Any] | None:
        """The reviewer's own verdict that ``?saved=ID`` points to (shown as a confirmation)."""
        if not saved.isdigit():
            return None
        mine = [r for r in state.store.reviews(int(saved)) if r.reviewer == user.name]
        return {"item": int(saved), "decision": mine[-1].decision} if mine else None

    @app.post("/cases/{item_id}/review")
    async def review_case(request: Request, item_id: int) -> Response:
        user = current_user(request)
        form = await form_of(request)
        it = _item_for(user, item_id)
        decision = str(form.get("decision", ""))
        if decision not in REVIEW_ANSWERS:
            raise InputError("choose allow, block, depends on the community, or needs discussion")
        principles = [str(p) for p in form.getlist("principles")]
        unknown = [p for p in principles if p not in state.charter.principle_ids]
        if unknown:
            raise InputError(f"unknown principle {unknown[0]!r}")
        communities = [str(c) for c in form.getlist("acceptable_for")] if decision == "depends" else []
        strange = [c for c in communities if c not in state.charter.communities]
        if strange:
            raise InputError(f"unknown community {strange[0]!r}; the charter defines: "
                             f"{', '.join(state.charter.communities) or 'none'}")
        if decision == "depends" and not communities:
            raise InputError("'Depends on the community' needs the communities it is acceptable for: tick at least one")
        correction = str(form.get("correction", "")).strip()[:MAX_TEXT] or None
        comment = str(form.get("comment", "")).strip()[:MAX_TEXT] or None
        mine = [r for r in state.store.reviews(item_id) if r.reviewer == user.name]
        state.store.add_review(it.id, user.name, decision, principles=principles, correction=correction,
                               comment=comment, amends=mine[-1].id if mine else None, communities=communities)
        for learner in state.incremental:
            threading.Thread(target=learner.maybe_update, daemon=True).start()
        skip = str(form.get("skip", ""))
        return go(request, f"/next?saved={it.id}" + (f"&skip={quote(skip)}" if skip else ""))

    # ------------------------------------------------------------------ pairwise
    @app.get("/pairwise")
    def pairwise_page(request: Request) -> Response:
        user = current_user(request)
        return page(request, "pairwise.html", pair=next_pair(state.store, user.name))

    @app.post("/pairwise")
    async def pairwise_choose(request: Request) -> Response:
        user = current_user(request)
        form = await form_of(request)
        pair = get_pair(state.store, str(form.get("pair", "")))
        choice = str(form.get("choice", ""))
        if choice != "skip":
            record_preference(state.store, pair, choice, user.name)
        return go(request, "/pairwise")

    # ------------------------------------------------------------------ admin
    @app.get("/admin")
    def dashboard(request: Request) -> Response:
        admin(request)
        users = state.users.list()
        dash = build_dashboard(state.store, state.queue, reviewer_communities={u.name: u.communities for u in users})
        versions = list(reversed(state.store.model_versions()))[:20]
        events = list(reversed(state.store.model_events()))[:20]
        # the same conditions as review.retrain.rollback, so the button is enabled exactly when it can work
        current = state.store.current_model(state.model_name)
        if current is None:
            why = f"No version of the model {state.model_name!r} is in use, so there is nothing to roll back."
        elif not any(m.status == "superseded" for m in state.store.model_versions(state.model_name)):
            why = f"{current.version} is the only version ever put in use; there is nothing to roll back to."
        else:
            why = ""
        if drift is not None:
            from accord.monitor.panel import build_panel

            panel = build_panel(drift)
        else:
            panel = None
        return page(request, "dashboard.html", d=dash, users=users, versions=versions, events=events, drift=panel,
                    refused=state.store.audit_events("model.refused", limit=10), now=datetime.now(UTC),
                    can_rollback=not why, rollback_why=why, min_shared=MIN_SHARED_ITEMS)

    @app.post("/admin/models/rollback")
    async def admin_rollback(request: Request) -> Response:
        user = admin(request)
        form = await form_of(request)
        reason = str(form.get("reason", "")).strip()[:500] or "rolled back from the dashboard"
        rollback(state.store, actor=user.name, reason=reason, name=state.model_name)
        return go(request, "/admin")

    @app.post("/admin/drift/clusters/{index}/queue")
    async def admin_drift_queue(request: Request, index: int) -> Response:
        user = admin(request)
        await form_of(request)
        if drift is None:
            raise _NotFound("The drift monitor is not running in this app.")
        drift.queue_cluster(index, count=20, actor=user.name)
        return go(request, "/queue")

    @app.get("/metrics")
    def metrics() -> Response:
        if drift_registry is None:
            raise StarletteHTTPException(404, "no metrics: the drift monitor is not running in this app")
        from prometheus_client import generate_latest

        return PlainTextResponse(generate_latest(drift_registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


#: the queue's sort orders: the configured queue order, then by age and by priority
QUEUE_SORTS = {"queue": "queue order", "oldest": "oldest first", "newest": "newest first", "priority": "highest priority"}


@dataclass(frozen=True)
class QueueFilter:
    """What a reviewer narrowed the queue to: words in the case, a principle, a community, an order."""

    q: str = ""
    principle: str = ""
    community: str = ""  # a charter community, or "(none)" for items routed to no community
    sort: str = "queue"

    @property
    def active(self) -> bool:
        return bool(self.q or self.principle or self.community or self.sort != "queue")

    def apply(self, items: list[ReviewItem]) -> list[ReviewItem]:
        out = items
        if self.q:
            words = self.q.lower().split()
            out = [it for it in out if all(w in f"{it.case.context_text}\n{it.case.action_text}".lower() for w in words)]
        if self.principle:
            out = [it for it in out if self.principle in _principles_at_stake(it)]
        if self.community:
            want = None if self.community == "(none)" else self.community
            out = [it for it in out if it.community == want]
        if self.sort == "oldest":
            out = sorted(out, key=lambda it: it.created_at)
        elif self.sort == "newest":
            out = sorted(out, key=lambda it: it.created_at, reverse=True)
        elif self.sort == "priority":
            out = sorted(out, key=lambda it: -it.priority)
        return out


def _principles_at_stake(it: ReviewItem) -> set[str]:
    """The verdict's violated principles, and its top-scored one."""
    ps = it.verdict_json.get("principles") or []
    return {str(p.get("id")) for p in ps if p.get("violated")} | ({str(ps[0].get("id"))} if ps else set())


def _local(url: str) -> str:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/queue"
