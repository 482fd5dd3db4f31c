"""Who is asking, and may they: API tokens, board sessions, and a trusted proxy's identity.

Reading the board needs no identity. Every write does, in one of three forms:
- `Authorization: Bearer <token>` (fwjr.ops.tokens): works for the token's scopes while its
  account holds a role that allows them; needs no CSRF token (nothing ambient is sent).
- a board session (Flask-Login, after signing in on /account/login): what the account's role
  allows, and every write must carry the session's CSRF token (Flask-WTF; a form field, or
  the X-CSRFToken header for JSON).
- a reverse proxy's identity header (single sign-on), believed only when the request comes
  from an address in FWJR_TRUSTED_PROXIES; otherwise ignored. Treated like a session (the
  browser's cookies with the proxy are ambient too), so writes need the CSRF token.
The client's address is never an identity by itself.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, has_request_context, jsonify, render_template, request
from flask_limiter import Limiter
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session

from dashboard import context
from fwjr.config import Settings
from fwjr.config import settings as current_settings
from fwjr.ops import accounts, tokens
from fwjr.ops.database import session
from fwjr.ops.links import fingerprint
from fwjr.ops.models import Account
from fwjr.ops.roles import SCOPES, Role, allows, at_least
from fwjr.ops.secrets_file import signing_key

log = logging.getLogger("fwjr.board.auth")
csrf = CSRFProtect()
login_manager = LoginManager()
GROUP_SEPARATORS = re.compile(r"[,;]\s*")


def client_address() -> str:
    """The client's address: the peer, or, behind a trusted proxy, the last hop it forwarded."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _trusted_proxy(peer):
        return forwarded.rsplit(",", 1)[-1].strip()
    return peer


limiter = Limiter(key_func=client_address)


class Refused(Exception):
    """A request without the identity or the right it needs; answered as JSON under /api, else as a page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for. `scopes` is None for sessions: the role decides."""

    account_id: int
    name: str
    role: str
    via: str
    scopes: frozenset[str] | None = None

    def may(self, scope: str) -> bool:
        return allows(self.role, scope) and (self.scopes is None or scope in self.scopes)

    def at_least(self, role: Role) -> bool:
        return self.via != "token" and at_least(self.role, role)


class SignedIn(UserMixin):
    """The Flask-Login user; its id carries the password's fingerprint, so a password change ends old sessions."""

    def __init__(self, account: Account) -> None:
        self.id = f"{account.id}:{fingerprint(account)}"
        self.account_id = account.id
        self.name = account.name
        self.role = account.role


@login_manager.user_loader
def _load_user(user_id: str) -> SignedIn | None:
    number, _, mark = user_id.partition(":")
    with database() as opened:
        account = opened.get(Account, int(number)) if number.isdigit() else None
        if account is None or account.disabled or not account.confirmed or fingerprint(account) != mark:
            return None
        return SignedIn(account)


@contextmanager
def database() -> Iterator[Session]:
    """A session on the bound settings' operational database (committed when the block ends)."""
    with session(context.settings().ops_url) as opened:
        yield opened


def _trusted_proxy(address: str) -> bool:
    proxies = context.settings().trusted_proxies
    if not proxies or not address:
        return False
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(cidr, strict=False) for cidr in proxies)


def identity() -> Principal | None:
    """The request's principal (token, proxy header, session), or None for an anonymous reader.

    A token that is unknown, revoked or whose account is disabled is refused outright (401),
    rather than the request falling back to being anonymous.
    """
    if "fwjr_principal" not in g:
        g.fwjr_principal = _identify()
    return g.fwjr_principal


def _identify() -> Principal | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, text = header.partition(" ")
        if scheme.lower() != "bearer" or not text.strip():
            raise Refused(401, "Authorization: expected `Bearer <token>`")
        with database() as opened:
            bearer = tokens.resolve(opened, text.strip())
        if bearer is None:
            raise Refused(401, "the token is unknown or revoked, or its account is disabled")
        return Principal(bearer.account_id, bearer.name, bearer.role, "token", bearer.scopes)
    proxied = _proxy_identity()
    if proxied is not None:
        return proxied
    if current_user.is_authenticated:
        return Principal(current_user.account_id, current_user.name, current_user.role, "session")
    return None


def _proxy_identity() -> Principal | None:
    settings = context.settings()
    if not settings.proxy_identity_header:
        return None
    name = request.headers.get(settings.proxy_identity_header, "").strip()
    if not name:
        return None
    if not _trusted_proxy(request.remote_addr or ""):
        log.warning("ignored %s from %s: not a trusted proxy", settings.proxy_identity_header, request.remote_addr)
        return None
    role = _proxy_role(settings)
    with database() as opened:
        account = accounts.proxy_account(opened, name, role)
        if account.disabled:
            return None
        return Principal(account.id, account.name, account.role, "proxy")


def _proxy_role(settings: Settings) -> Role | None:
    """The highest role the proxy's groups map to; viewer when none maps; None without a groups header."""
    if not settings.proxy_groups_header:
        return None
    groups = GROUP_SEPARATORS.split(request.headers.get(settings.proxy_groups_header, ""))
    mapped = [Role(settings.proxy_group_roles[g]) for g in groups if g in settings.proxy_group_roles]
    return max(mapped, key=lambda r: r.rank, default=Role.viewer)


def require(scope: str) -> Principal:
    """The principal allowed `scope` on this request; Refused (401/403) otherwise; CSRF checked for non-token writes."""
    principal = identity()
    if principal is None:
        raise Refused(401, f"sign in, or send a token with the scope {scope}")
    if not principal.may(scope):
        what = "this token lacks" if principal.via == "token" else f"{principal.name} ({principal.role}) lacks"
        raise Refused(403, f"{what} the scope {scope} (needs the role {SCOPES[scope]})")
    _csrf_unless_token(principal)
    return principal


def require_role(least: Role) -> Principal:
    """A signed-in (session or proxy) principal of at least this role, for the board's own pages."""
    principal = identity()
    if principal is None:
        raise Refused(401, "sign in first")
    if not principal.at_least(least):
        raise Refused(403, f"{principal.name} ({principal.role}) is not {least}")
    _csrf_unless_token(principal)
    return principal


def _csrf_unless_token(principal: Principal) -> None:
    if principal.via != "token":
        csrf.protect()


def flask_config(settings: Settings) -> dict[str, Any]:
    """Session and CSRF settings for the board's Flask app."""
    secure = settings.session_cookie_secure
    if secure is None:
        secure = not _loopback(settings.dashboard_host)
    return {
        "SECRET_KEY": signing_key(settings),
        "SESSION_COOKIE_NAME": "fwjr_session",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": settings.session_cookie_samesite,
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": settings.session_cookie_samesite,
        "WTF_CSRF_CHECK_DEFAULT": False,
    }


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configure(server: Flask, settings: Settings) -> None:
    """Point the board's session and CSRF handling at these settings (on every create_app)."""
    server.config.update(flask_config(settings))


def register(server: Flask) -> None:
    """Attach Flask-Login, CSRF protection (checked explicitly, so Dash's callbacks are untouched) and the limiter."""
    server.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(server)
    login_manager.init_app(server)
    login_manager.login_view = "account.login"
    # The app is built once per process, before a store and its settings are bound: the
    # limiter's storage comes from the process's own configuration.
    server.config["RATELIMIT_STORAGE_URI"] = current_settings().rate_limit_storage
    limiter.init_app(server)
    server.register_error_handler(Refused, _refused)
    server.register_error_handler(CSRFError, _csrf_failed)
    server.context_processor(lambda: {"principal": _page_identity()})


def _page_identity() -> Principal | None:
    """The principal for a page's header; a refused token renders as anonymous rather than failing the page."""
    if not has_request_context():
        return None
    try:
        return identity()
    except Refused:
        return None


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _refused(error: Refused) -> tuple[Response | str, int] | Response:
    if _wants_json():
        response = jsonify({"error": error.message})
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="fwjr"'
        return response, error.status
    return render_template("refused.html", message=error.message, status=error.status), error.status


def _csrf_failed(error: CSRFError) -> tuple[Response | str, int]:
    message = f"CSRF check failed: {error.description}"
    if _wants_json():
        return jsonify({"error": message}), 400
    return render_template("refused.html", message=message, status=400), 400
