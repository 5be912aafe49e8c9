"""API clients: per-client tokens with scopes and an expiry (``ApiClient``), the DRF authentication
that reads them, the scope check of every API view, and the rate limits of sensitive API actions.

A token reads ``wdk_<prefix>_<secret>`` and is sent as ``Authorization: Bearer <token>``. Only the
SHA-256 of the whole token is stored (the secret has 256 bits: a slow hash adds nothing), compared in
constant time. The scope an API call needs follows from its route and method (``required_scope``):
"<area>:read" for GET/HEAD/OPTIONS, "<area>:write" for the rest; a route of no known area is refused
to every token (fail closed). Staff in the web UI and the session API are not limited by scopes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from .audit import audit_record
from .exceptions import DomainError
from .models import ApiClient, AuditAction

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "wdk_"
AREAS = ("warrants", "exports", "follow-ups", "audit")
SCOPES = tuple(f"{area}:{mode}" for area in AREAS for mode in ("read", "write"))

# URL names of the API routes (router basenames and named paths) -> area.
_AREA_OF_ROUTE = {
    "warrant": "warrants",
    "document": "warrants",
    "agency": "warrants",
    "investigator": "warrants",
    "warrant-scope": "exports",
    "warrant-exports": "exports",
    "export": "exports",
    "warrant-follow-ups": "follow-ups",
    "follow-up": "follow-ups",
    "audit": "audit",
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def required_scope(request) -> str | None:
    """The scope a call needs, from its route's name and method; None for a route of no known area."""
    match = getattr(request, "resolver_match", None)
    name = (match.url_name or "") if match is not None else ""
    if name in {"api-root", "api-schema"}:
        return "any"
    area = _AREA_OF_ROUTE.get(name)
    if area is None:
        for prefix, candidate in _AREA_OF_ROUTE.items():
            if name.startswith(prefix + "-"):
                area = candidate
                break
    if area is None and name.startswith("audit-"):
        area = "audit"
    if area is None:
        return None
    return f"{area}:{'read' if request.method in permissions.SAFE_METHODS else 'write'}"


def _clean_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise DomainError(f"unknown or missing scopes {unknown}: use some of {', '.join(SCOPES)}", code="bad_scope")
    return sorted(set(scopes))


@transaction.atomic
def api_client_create(*, name: str, user, scopes: list[str], days: int, actor=None) -> tuple[ApiClient, str]:
    """A new client acting as ``user`` within ``scopes`` for ``days`` days. Returns the client and its
    token: shown once, never stored."""
    if not name.strip():
        raise DomainError("give the client a name", code="name_required")
    if not 1 <= days <= 730:
        raise DomainError("the token's life is 1 to 730 days", code="bad_expiry")
    if not user.is_active:
        raise DomainError("the user the client acts as is not active", code="inactive_user")
    scopes = _clean_scopes(scopes)
    prefix = secrets.token_hex(4)
    while ApiClient.objects.filter(prefix=prefix).exists():  # pragma: no cover - 2^32 prefixes
        prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    client = ApiClient.objects.create(
        name=name.strip(),
        prefix=prefix,
        token_hash=_hash(token),
        user=user,
        scopes=scopes,
        created_by=actor,
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    audit_record(
        action=AuditAction.API_CLIENT_CREATED,
        actor=actor,
        actor_label=None if actor is not None else "manage.py",
        obj=client,
        details={
            "client": client.name,
            "prefix": prefix,
            "acts_as": user.get_username(),
            "scopes": scopes,
            "expires": client.expires_at.isoformat(),
        },
    )
    return client, token


@transaction.atomic
def api_client_revoke(*, client: ApiClient, actor=None) -> ApiClient:
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.revoked_by = actor if getattr(actor, "is_authenticated", False) else None
        client.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            action=AuditAction.API_CLIENT_REVOKED,
            actor=actor,
            actor_label=None if actor is not None else "manage.py",
            obj=client,
            details={"client": client.name, "prefix": client.prefix},
        )
    return client


def _refuse(client: ApiClient, reason: str, request=None, **extra) -> None:
    audit_record(
        action=AuditAction.API_CLIENT_REFUSED,
        actor_label=f"api-client:{client.prefix}",
        obj=client,
        details={"prefix": client.prefix, "reason": reason, **extra},
        ip=request.META.get("REMOTE_ADDR") if request is not None else None,
    )


class ClientTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer wdk_…``: the client's user, with the client as ``request.auth``. A refused
    token of a known client (wrong secret, expired, revoked, inactive user) is audited; a token of no
    client only logged, so that noise cannot fill the audit log."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        prefix = token.removeprefix(TOKEN_PREFIX).split("_", 1)[0] if token.startswith(TOKEN_PREFIX) else ""
        client = ApiClient.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
        if client is None:
            logger.info("API token of no client refused")
            raise exceptions.AuthenticationFailed("Invalid token.")
        reason = None
        if not hmac.compare_digest(client.token_hash, _hash(token)):
            reason = "wrong_secret"
        elif client.revoked_at is not None:
            reason = "revoked"
        elif client.expires_at <= timezone.now():
            reason = "expired"
        elif not client.user.is_active:
            reason = "inactive_user"
        if reason is not None:
            _refuse(client, reason, request)
            raise exceptions.AuthenticationFailed("Invalid token." if reason == "wrong_secret" else f"Token {reason}.")
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > dt.timedelta(minutes=1):
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return client.user, client

    def authenticate_header(self, request):
        return self.keyword


def check_scope(request) -> None:
    """Raise PermissionDenied (audited) when the call's client lacks the scope the route needs."""
    client = getattr(request, "auth", None)
    if not isinstance(client, ApiClient):
        return
    needed = required_scope(request)
    if needed == "any" or (needed is not None and needed in client.scopes):
        return
    _refuse(client, "scope", request, needed=needed or "none", path=request.path[:200])
    raise exceptions.PermissionDenied(f"This client's token lacks the scope {needed or 'for this route'}.")


# --- Rate limits of sensitive actions ---------------------------------------------------------------------

# (route name, method) -> DRF throttle scope; rates in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].
_THROTTLED = {
    ("warrant-exports", "POST"): "exports",
    ("export-download", "GET"): "downloads",
    ("export-links", "POST"): "links",
    ("warrant-follow-ups", "POST"): "reveal-requests",
    ("follow-up-decisions", "POST"): "reveals",
}


class SensitiveActionThrottle(ScopedRateThrottle):
    """Per user (or client) and action: exports, downloads, one-time links, follow-up (reveal) requests
    and decisions. Counted in the shared database cache (settings.CACHES["throttle"]) so that every web
    process and machine counts together. Over the rate: 429 with Retry-After."""

    def __init__(self):
        from django.core.cache import caches

        self.cache = caches["throttle"]

    def allow_request(self, request, view):
        match = getattr(request, "resolver_match", None)
        self.scope = _THROTTLED.get(((match.url_name if match else "") or "", request.method))
        if not self.scope or not request.user.is_authenticated:
            return True
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # read now: settings may change
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super(ScopedRateThrottle, self).allow_request(request, view)

    def get_cache_key(self, request, view):
        client = getattr(request, "auth", None)
        ident = f"client-{client.pk}" if isinstance(client, ApiClient) else f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
