"""Staff two-factor login (django-otp: TOTP and single-use recovery codes), the idle timeout, and the
lockout answer of django-axes.

Signing in takes two steps: the password (Django's LoginView, guarded by django-axes), then a code
from the authenticator app or a recovery code on ``/accounts/two-factor/``. Until the second step,
``SecondFactorMiddleware`` sends a signed-in user to that page (or, with no confirmed device yet, to
the enrolment page) from every page that needs an account; the API's session authentication
(``VerifiedSessionAuthentication``) treats such a session as not signed in. Public pages (the
operator's key, transparency reports, the login page) stay public.

An administrator resets a user's second factor (``second_factor_reset``: the admin's action on
users, or ``manage.py reset_two_factor``): the devices are deleted, the user enrols again at the
next sign-in, and the reset is audited.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import segno
from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authentication import SessionAuthentication

from .audit import audit_record
from .models import AuditAction

RECOVERY_CODE_COUNT = 10
_CODES_SESSION_KEY = "warrantdesk_recovery_codes"  # shown once, then removed from the session
_LAST_SEEN_SESSION_KEY = "warrantdesk_last_seen"


# --- Devices ---------------------------------------------------------------------------------------------


def confirmed_totp(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def recovery_codes_create(user) -> list[str]:
    """A new set of single-use recovery codes (any older set is replaced)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def second_factor_reset(*, user, actor) -> int:
    """Delete every second-factor device of ``user`` (they enrol again at their next sign-in); audited.
    Sessions already verified with a deleted device are no longer verified. Returns the number deleted."""
    deleted = 0
    for model in (TOTPDevice, StaticDevice):
        count, _detail = model.objects.filter(user=user).delete()
        deleted += count
    audit_record(
        action=AuditAction.TWO_FACTOR_RESET,
        actor=actor,
        actor_label=None if actor is not None else "manage.py",
        obj=user,
        details={"user": user.get_username(), "devices": deleted},
    )
    return deleted


def mark_verified(client, user) -> TOTPDevice:
    """Tests and the bench: a client already signed in (force_login) passes the second factor too, the
    way django-otp records it (the device's persistent id in the session)."""
    device = confirmed_totp(user) or TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


def current_code(device: TOTPDevice) -> str:
    """The code the device's app shows now (tests, and the demo's journey with its published secret)."""
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():0{device.digits}d}"


def _safe_next(request: HttpRequest) -> str:
    """The page asked for, if it is a path of this site; else home. Only ever given to
    ``HttpResponseRedirect``, never to ``redirect()`` (which would take a bare word for a view name)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith("/")
        and "\x00" not in target
        and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    ):
        return target
    return reverse("home")


def _with_next(url_name: str, target: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': target})}" if target else reverse(url_name)


# --- Views -----------------------------------------------------------------------------------------------


def _second_factor_page(view):
    view.second_factor_exempt = True
    return view


@_second_factor_page
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Step two of signing in: a 6-digit code of the authenticator app, or one recovery code."""
    if request.user.is_verified():  # type: ignore[union-attr]  # installed by django-otp's middleware
        return HttpResponseRedirect(_safe_next(request))
    device = confirmed_totp(request.user)
    if device is None:
        return redirect(_with_next("two-factor-setup", request.GET.get("next", "")))
    error = None
    if request.method == "POST":
        code = "".join(request.POST.get("code", "").split()).lower()[:16]
        matched = _match(request.user, device, code)
        if matched is not None:
            otp_login(request, matched)
            request.session.cycle_key()
            used_recovery = isinstance(matched, StaticDevice)
            audit_record(
                action=AuditAction.RECOVERY_CODE_USED if used_recovery else AuditAction.TWO_FACTOR_VERIFIED,
                actor=request.user,
            )
            if used_recovery:
                left = StaticToken.objects.filter(device=matched).count()
                messages.warning(
                    request,
                    _("You signed in with a recovery code; %(left)d codes are left.") % {"left": left},
                )
            return HttpResponseRedirect(_safe_next(request))
        audit_record(action=AuditAction.TWO_FACTOR_FAILED, actor=request.user)
        error = _("That code is not valid. Enter the current code of your authenticator app, or a recovery code.")
    return render(
        request,
        "registration/two_factor_verify.html",
        {"error": error, "next": request.POST.get("next") or request.GET.get("next", "")},
        status=400 if error else 200,
    )


def _match(user, device: TOTPDevice, code: str):
    if not code:
        return None
    with transaction.atomic():
        if code.isdigit():
            locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            return locked if locked.verify_token(code) else None
        recovery = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if recovery is not None and recovery.verify_token(code):
            return recovery
    return None


@_second_factor_page
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Enrolment on first sign-in: scan the QR code (or type the secret), confirm with one code; the
    recovery codes are then shown once."""
    if confirmed_totp(request.user) is not None:
        return redirect(_with_next("two-factor-verify", request.GET.get("next", "")))
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="default", confirmed=False)
    error = None
    if request.method == "POST":
        code = "".join(request.POST.get("code", "").split())[:16]
        with transaction.atomic():
            locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            if code.isdigit() and locked.verify_token(code):
                locked.confirmed = True
                locked.save(update_fields=["confirmed"])
                codes = recovery_codes_create(request.user)
                otp_login(request, locked)
                audit_record(action=AuditAction.TWO_FACTOR_ENROLLED, actor=request.user)
        if locked.confirmed:
            request.session.cycle_key()
            request.session[_CODES_SESSION_KEY] = codes
            return redirect(_with_next("two-factor-codes", request.POST.get("next", "")))
        error = _("That code is not valid. Check the time of your phone and enter the code shown now.")
    uri = device.config_url
    secret = _base32(device)
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "qr_svg": segno.make(uri, error="m").svg_data_uri(scale=4, border=2),
            "otpauth_uri": uri,
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "error": error,
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
        status=400 if error else 200,
    )


def _base32(device: TOTPDevice) -> str:
    import base64

    return base64.b32encode(device.bin_key).decode().rstrip("=")


@_second_factor_page
@require_http_methods(["GET", "POST"])
def codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes, once: read from the session and removed from it."""
    shown = request.session.pop(_CODES_SESSION_KEY, None)
    if not shown:
        return HttpResponseRedirect(_safe_next(request))
    response = render(request, "registration/two_factor_codes.html", {"codes": shown, "next": _safe_next(request)})
    response["Cache-Control"] = "no-store"
    return response


# --- Middleware ------------------------------------------------------------------------------------------


class SecondFactorMiddleware:
    """After django-otp's OTPMiddleware: a signed-in user who has not passed the second factor reaches
    only public views and the second-factor pages; any other page redirects to the code (or enrolment)
    page. DRF views are left to their authentication (``VerifiedSessionAuthentication``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        if getattr(view_func, "cls", None) is not None or getattr(view_func, "second_factor_exempt", False):
            return None
        if not getattr(view_func, "login_required", True):
            return None  # public pages stay public
        match = request.resolver_match
        if match is not None and match.url_name == "logout":
            return None
        target = request.get_full_path()
        name = "two-factor-verify" if confirmed_totp(user) is not None else "two-factor-setup"
        return redirect(_with_next(name, target))


class VerifiedSessionAuthentication(SessionAuthentication):
    """DRF's session authentication, counting only sessions that passed the second factor."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        is_verified = getattr(user, "is_verified", None)
        if is_verified is None or not is_verified():
            return None
        return result


class IdleTimeoutMiddleware:
    """Signs a user out after WARRANTDESK_IDLE_MINUTES without a request (0: never). The time of the last
    request is kept in the session, written at most once a minute."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        idle_seconds = settings.WARRANTDESK_IDLE_MINUTES * 60
        user = getattr(request, "user", None)
        if idle_seconds > 0 and user is not None and user.is_authenticated:
            now = int(time.time())
            last_seen = request.session.get(_LAST_SEEN_SESSION_KEY)
            if isinstance(last_seen, int) and now - last_seen > idle_seconds:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)  # the API answers as to anyone not signed in
                messages.info(request, _("You were signed out after a period of inactivity."))
                return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")
            if not isinstance(last_seen, int) or now - last_seen >= 60:
                request.session[_LAST_SEEN_SESSION_KEY] = now
        return self.get_response(request)


# --- django-axes -----------------------------------------------------------------------------------------


class AxesBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every sign-in through a web request. ``authenticate`` called
    without a request (Django's test client's ``login``, a management command) has no address and no
    form to lock: it is left to the next backend instead of refused."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request, original_response, credentials=None):
    """AXES_LOCKOUT_CALLABLE: a locked-out sign-in gets the very page a wrong password gets (the login
    form with its usual error; Django's ``authenticate`` already turned the lockout into a failed
    sign-in), so that the answer tells nothing of the account. A password hash is computed as for any
    other attempt, so the time taken tells nothing either."""
    get_user_model()().set_password((credentials or {}).get("password") or "-")
    return original_response if original_response is not None else redirect("login")
