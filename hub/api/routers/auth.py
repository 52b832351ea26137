"""Login (OAuth2 password flow), token refresh with rotation, logout, and who-am-I."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from hub.api.common import Strict
from hub.auth import accounts, throttle, tokens
from hub.auth.access import Anonymous, Caller, public, require
from hub.auth.source import login_source

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid.")
    refresh_token: str = Field(description="Single use: each refresh returns a new one.")


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=10, max_length=200)


class Me(BaseModel):
    kind: str
    id: str
    name: str
    department: str
    roles: list[str]
    incoming_grants: list[str] = Field(
        description="Ids of grants currently giving this caller access."
    )


def _pair(ctx: Anonymous, user_id: str, refresh: str, session: str) -> TokenPair:
    minutes = ctx.runtime.config.access.access_token_minutes
    return TokenPair(
        access_token=tokens.issue_access_token(
            ctx.runtime.access_key, user_id, minutes, session=session
        ),
        expires_in=minutes * 60,
        refresh_token=refresh,
    )


def _refuse(ctx: Anonymous) -> HTTPException:
    ctx.db.commit()  # keep the audit entry and the throttle's counts despite the error
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, "invalid credentials", headers={"WWW-Authenticate": "Bearer"}
    )


THROTTLED = "too many failed logins: retry later"


@router.post(
    "/token",
    response_model=TokenPair,
    summary="Log in (OAuth2 password flow)",
    responses={429: {"description": "Too many failed logins from this source: see Retry-After"}},
)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    anon: Anonymous = public("the login itself", db=False),
) -> TokenPair:
    """Three short transactions around the password check, which holds no connection."""
    username = form.username[:64]
    runtime = anon.runtime
    access = runtime.config.access
    peer = request.client.host if request.client else None
    source = login_source(peer, request.headers.getlist("x-forwarded-for"), access.trusted_proxies)
    now = runtime.clock()
    with runtime.pool.connection() as conn:
        wait = throttle.wait_s(conn, access.login_throttle, username, source, now)
        if wait > 0:
            seconds = throttle.retry_after(wait)
            Anonymous(runtime, conn).audit("auth.login.failed", actor=f"user:{username}",
                                           reason="throttled", source=source,
                                           retry_after=seconds)
            conn.commit()
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, THROTTLED,
                                headers={"Retry-After": str(seconds)})
        row = accounts.login_row(conn, username)
    principal, reason, rehash = accounts.check_login(row, form.password)
    with runtime.pool.connection() as conn:
        ctx = Anonymous(runtime, conn)
        if principal is None:
            throttle.failed(conn, access.login_throttle, username, source, now)
            ctx.audit("auth.login.failed", actor=f"user:{username}", reason=reason, source=source)
            raise _refuse(ctx)
        accounts.store_rehash(conn, principal.id, rehash)
        throttle.succeeded(conn, username, source)
        ctx.audit("auth.login", actor=principal.actor, actor_department=principal.department,
                  source=source)
        session = uuid.uuid4()  # the refresh-token family: logging out ends its access tokens
        refresh = accounts.issue_refresh(conn, principal.id, access.refresh_token_days, session)
        return _pair(ctx, principal.id, refresh, str(session))


@router.post("/refresh", response_model=TokenPair, summary="Trade a refresh token for new tokens")
def refresh(body: RefreshIn, ctx: Anonymous = public("holds a refresh token instead")) -> TokenPair:
    rotated = accounts.rotate_refresh(
        ctx.db, body.refresh_token, ctx.runtime.config.access.refresh_token_days
    )
    principal = accounts.user_principal(ctx.db, rotated[0]) if rotated else None
    if rotated is None or principal is None:
        ctx.audit("auth.refresh.failed", actor="anonymous")
        raise _refuse(ctx)
    ctx.audit("auth.refresh", actor=principal.actor, actor_department=principal.department)
    return _pair(ctx, *rotated)


@router.post("/logout", status_code=204, summary="End the session the refresh token belongs to")
def logout(body: RefreshIn, ctx: Anonymous = public("holds a refresh token instead")) -> Response:
    user_id = accounts.revoke_refresh(ctx.db, body.refresh_token)
    if user_id is not None:
        principal = accounts.user_principal(ctx.db, user_id)
        if principal is not None:
            ctx.audit("auth.logout", actor=principal.actor, actor_department=principal.department)
    return Response(status_code=204)


@router.get("/me", response_model=Me, summary="The caller, its roles and active incoming grants")
def me(caller: Caller = require()) -> dict[str, Any]:
    p = caller.principal
    return {
        "kind": p.kind,
        "id": p.id,
        "name": p.name,
        "department": p.department,
        "roles": sorted(p.roles),
        "incoming_grants": [g.id for g in caller.visibility.grants],
    }
