"""Deny by default: every route declares its access rule, checked when the app is built.

A route gets its caller through exactly one of:

* ``require(Role.analyst, ...)``: an authenticated user or API key holding one of the
  roles (none listed: any authenticated caller). Yields a :class:`Caller` with a
  database connection already inside a transaction bound to the caller's
  department (``cityhub.department``, for row-level security) and the caller's
  :class:`~hub.auth.grants.Visibility` read fresh for this request.
* ``public("why")``: no authentication (login, token refresh, health, public key).

:func:`assert_access_declared` walks ``app.routes`` and refuses to start an app
in which any route lacks one of them; the per-camera check
:func:`Caller.camera_or_404` answers "not found" for cameras outside the
caller's rights, so that ids of other departments' cameras are not confirmed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from psycopg.rows import dict_row
from starlette.requests import HTTPConnection

from hub.api.common import not_found
from hub.audit import chain
from hub.auth import accounts, grant_store, tokens
from hub.auth.grants import Visibility
from hub.auth.roles import Principal, Role

if TYPE_CHECKING:
    from hub.api.runtime import Runtime

ACCESS_MARK = "__cityhub_access__"
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Service API key (chk_<id>.<secret>)"
)
#: Starlette routes FastAPI adds itself (schema and docs pages): public by nature.
FRAMEWORK_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "not authenticated", headers={"WWW-Authenticate": "Bearer"}
)


def _held(db: psycopg.Connection[Any] | None) -> psycopg.Connection[Any]:
    """A route's transaction; a route declared without one has none to use."""
    if db is None:
        raise RuntimeError("this route holds no database connection (hold_db/db=False)")
    return db


@dataclass
class Caller:
    """An authenticated request: who, what it may see, and its transaction."""

    principal: Principal
    visibility: Visibility
    runtime: Runtime
    _db: psycopg.Connection[Any] | None  #: None once given back (``require(hold_db=False)``)
    request_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db(self) -> psycopg.Connection[Any]:
        return _held(self._db)

    @property
    def department(self) -> str:
        return self.principal.department

    def audit(
        self,
        action: str,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        department: str | None = None,
        **detail: Any,
    ) -> None:
        chain.append(
            self.db,
            actor=self.principal.actor,
            actor_department=self.department,
            action=action,
            target_type=target_type,
            target_id=target_id,
            department=department or self.department,
            detail=detail,
        )

    def camera_or_404(self, camera_id: str) -> dict[str, Any]:
        """The camera if the caller may see it (video); 404 alike for unknown and hidden."""
        with self.db.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT id, name, site_id, department_id, source_system FROM cameras WHERE id = %s",
                (camera_id,),
            ).fetchone()
        if row is None or not self.visibility.sees_camera(
            row["department_id"], row["site_id"], row["id"], row["source_system"]
        ):
            raise not_found("camera")
        return row


@dataclass
class Anonymous:
    """A public route's context: a transaction with no department bound (RLS shows nothing)."""

    runtime: Runtime
    _db: psycopg.Connection[Any] | None  #: None for ``public(db=False)``

    @property
    def db(self) -> psycopg.Connection[Any]:
        return _held(self._db)

    def audit(
        self,
        action: str,
        *,
        actor: str,
        actor_department: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        **detail: Any,
    ) -> None:
        chain.append(
            self.db,
            actor=actor,
            actor_department=actor_department,
            action=action,
            target_type=target_type,
            target_id=target_id,
            department=actor_department,
            detail=detail,
        )


def _runtime(request: HTTPConnection) -> Runtime:
    return request.app.state.runtime


def authenticate(
    conn: psycopg.Connection[Any], runtime: Runtime, bearer: str | None, api_key: str | None
) -> Principal:
    principal: Principal | None = None
    if api_key:
        principal = accounts.api_key_principal(conn, api_key)
    elif bearer:
        if bearer.startswith(tokens.API_KEY_PREFIX):
            principal = accounts.api_key_principal(conn, bearer)
        else:
            try:
                user_id, session = tokens.access_claims(runtime.access_keys, bearer)
            except tokens.TokenError:
                raise UNAUTHORIZED from None
            if session is None or not accounts.session_ended(conn, session):
                principal = accounts.user_principal(conn, user_id)
            if principal is not None:
                principal = replace(principal, session=session)
    if principal is None:
        raise UNAUTHORIZED
    return principal


def bind_department(conn: psycopg.Connection[Any], department: str) -> Visibility:
    conn.execute("SELECT set_config('cityhub.department', %s, true)", (department,))
    return grant_store.visibility(conn, department)


def _check(
    conn: psycopg.Connection[Any],
    runtime: Runtime,
    roles: tuple[Role, ...],
    bearer: str | None,
    api_key: str | None,
) -> tuple[Principal, Visibility]:
    principal = authenticate(conn, runtime, bearer, api_key)
    if roles and not principal.has(*roles):
        conn.commit()  # keep api_keys.last_used_at
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"needs one of the roles: {', '.join(sorted(roles))}"
        )
    return principal, bind_department(conn, principal.department)


def require(*roles: Role, hold_db: bool = True) -> Any:
    """The access rule "authenticated, holding one of ``roles``" as a FastAPI dependency.

    ``hold_db=False`` (long-lived streams) checks and returns at once: the Caller then has
    no connection, and the stream re-checks the caller on every query it makes.
    """

    def dependency(
        request: Request,
        bearer: str | None = Depends(oauth2),
        api_key: str | None = Depends(api_key_header),
    ) -> Iterator[Caller]:
        runtime = _runtime(request)
        with runtime.pool.connection() as conn:
            principal, visibility = _check(conn, runtime, roles, bearer, api_key)
            caller = Caller(
                principal,
                visibility,
                runtime,
                conn,
                request.headers.get("x-request-id", ""),
                {"bearer": bearer, "api_key": api_key, "roles": roles},
            )
            if hold_db:
                yield caller
                return
        caller._db = None  # the connection goes back to the pool: the route must not use it
        yield caller

    setattr(dependency, ACCESS_MARK, ("roles", tuple(roles)))
    # scope="function": the transaction commits when the route returns, before the answer is
    # sent, so a write (above all one that takes access away) is durable once it is answered.
    return Depends(dependency, scope="function")


def audit_now(caller: Caller, action: str, *, target_type: str | None = None,
              target_id: str | None = None, department: str | None = None, **detail: Any) -> None:
    """Append to the audit log outside the request's transaction, group-committed with other
    callers' entries (``hub.audit.batcher``); returns once the entry is durable."""
    caller.runtime.audit.submit({
        "actor": caller.principal.actor, "actor_department": caller.department, "action": action,
        "target_type": target_type, "target_id": target_id,
        "department": department or caller.department, "detail": detail,
    }).result(timeout=30)


async def store_query(caller: Caller, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one of ``hub.store.queries`` (async) as the API role, bound to the caller's
    department."""
    async with caller.runtime.apool.connection() as conn:
        await conn.execute(
            "SELECT set_config('cityhub.department', %s, true)", (caller.department,)
        )
        return await fn(conn, *args, **kwargs)


def recheck(conn: psycopg.Connection[Any], caller: Caller) -> Caller:
    """The same caller re-authenticated now, with its visibility read afresh (streams)."""
    principal, visibility = _check(
        conn, caller.runtime, caller.extra["roles"], caller.extra["bearer"], caller.extra["api_key"]
    )
    return Caller(principal, visibility, caller.runtime, conn, caller.request_id, caller.extra)


def public(reason: str, db: bool = True) -> Any:
    """The access rule "anyone", with the reason written where the route is declared.

    Without ``db`` the dependency is a coroutine: it runs on the event loop, so a probe or
    a media gateway is answered even while the thread pool is busy with database work."""

    def dependency(connection: HTTPConnection) -> Iterator[Anonymous]:  # HTTP or WebSocket
        with _runtime(connection).pool.connection() as conn:
            yield Anonymous(_runtime(connection), conn)

    async def no_db(connection: HTTPConnection) -> Anonymous:
        return Anonymous(_runtime(connection), None)

    chosen = dependency if db else no_db
    setattr(chosen, ACCESS_MARK, ("public", reason))
    return Depends(chosen, scope="function")  # committed before the answer, as require()


def _declared(dependant: Any) -> bool:
    for dep in dependant.dependencies:
        if hasattr(dep.call, ACCESS_MARK) or _declared(dep):
            return True
    return False


def iter_routes(app: Any) -> Iterator[tuple[str, Any]]:
    """(full path, route) of every route, through included routers (lazy in newer FastAPI)."""
    try:
        from fastapi.routing import iter_route_contexts  # noqa: PLC0415  lazy: probes the FastAPI version
    except ImportError:  # FastAPI that flattens included routers into app.routes
        for route in app.routes:
            yield getattr(route, "path", repr(route)), route
        return
    for ctx in iter_route_contexts(app.routes):
        yield ctx.path or repr(ctx.original_route), ctx.original_route


def assert_access_declared(app: Any) -> None:
    """Refuse an app with any route that does not declare who may call it."""
    missing = []
    for path, route in iter_routes(app):
        if isinstance(route, APIRoute | APIWebSocketRoute):
            if not _declared(route.dependant):
                missing.append(path)
        elif path not in FRAMEWORK_PATHS:
            missing.append(path)
    if missing:
        raise RuntimeError(f"routes without a declared access rule (deny by default): {missing}")
