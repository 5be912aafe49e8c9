"""Settings for warrantdesk, read from the environment.

Defaults suit a developer machine (SQLite, local mail to the console, a generated secret key
kept in the git-ignored data directory). Production sets DATABASE_URL (PostgreSQL), SECRET_KEY
(or SECRET_KEY_FILE), ALLOWED_HOSTS, the mailer and the task backend; see README.md.
"""

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or default


def env_secret(name: str, *, missing_ok: bool = False) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/systemd credentials).

    With ``missing_ok`` a NAME_FILE that does not exist yet reads as unset, so that
    ``manage.py init_local_keys`` can start and create it; the system check ``warrantdesk.E001``
    stops every other command until it exists."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        if missing_ok and not Path(path).exists():
            return None
        return Path(path).read_text().strip()
    return None


# Data directory: SQLite database, uploaded documents, generated local secrets. Never committed.
VAR_DIR = Path(os.environ.get("WARRANTDESK_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret(filename: str, factory) -> str:
    """Generate a development secret once, kept in VAR_DIR with mode 0600."""
    path = VAR_DIR / filename
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(factory())
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY") or _local_secret("secret_key", lambda: secrets.token_urlsafe(50))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_tasks_db",
    "warrantdesk",
    "requests_app",
    "disclosure",
    "demo",  # make run's demo data and sample documents (imported by no other app)
    "oversight",  # the auditor's read-only workspace (imported by no other app)
    "hi1",  # the ETSI TS 103 120 (HI-1) interface (imported by no other app)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "warrantdesk.middleware.NulByteGuardMiddleware",  # before anything looks a value up in the database
    "django.middleware.common.CommonMiddleware",
    # Before CSRF: it parses uploads itself so that path-like file names can be refused.
    "warrantdesk.uploads.UploadNameGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "warrantdesk.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "warrantdesk.urls"
WSGI_APPLICATION = "warrantdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "warrantdesk.context_processors.roles",
                "requests_app.context_processors.statuses",
                "disclosure.context_processors.statuses",
            ],
        },
    },
]

# Database: SQLite file by default; PostgreSQL (production, CI) via DATABASE_URL.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'warrantdesk.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so the web app and the worker
    # queue for it instead of failing with "database is locked" halfway through.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row
GUARDIAN_RAISE_403 = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # the warrants, or the audit log for an auditor (warrantdesk.views.home)
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and "DATABASE_URL" in os.environ)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ko", _("Korean"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = "warrantdesk.formats"  # dates shown in the reader's language, typed in either

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"  # never served directly: documents go through permission-checked views

# Uploads: warrant documents are PDFs; anything bigger is refused before it is stored.
WARRANTDESK_MAX_UPLOAD_BYTES = env_int("WARRANTDESK_MAX_UPLOAD_MB", 20) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700


# Keys. The key-encryption key (KEK) wraps every warrant's pseudonym key: base64 of 32 bytes, a
# comma-separated list for rotation (the first wraps new keys, all unwrap). The operator's Ed25519
# key signs export manifests (PEM). Both come from the environment or a *_FILE; `make run`
# generates local ones in the data directory. Without a KEK no export can start.
def _kek_list(value: str) -> list[bytes]:
    keys = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            key = base64.b64decode(item, validate=True)
        except binascii.Error as exc:
            raise ImproperlyConfigured("WARRANTDESK_KEK: not base64") from exc
        if len(key) != 32:
            raise ImproperlyConfigured("WARRANTDESK_KEK: each key must be 32 bytes (base64 of 32 random bytes)")
        keys.append(key)
    return keys


WARRANTDESK_KEKS = _kek_list(env_secret("WARRANTDESK_KEK", missing_ok=True) or "")
WARRANTDESK_SIGNING_KEY = env_secret("WARRANTDESK_SIGNING_KEY", missing_ok=True) or ""


# The public halves of the signing keys WARRANTDESK_SIGNING_KEY held before a rotation (PEM, each
# optionally after a line "Retired: YYYY-MM-DD"; warrantdesk/operator_keys.py), configured apart from
# the private key: what they signed still verifies and they are published, marked retired. Public keys
# only: a private key there, or anything unreadable, stops every process at start.
def _retired_signing_keys() -> str:
    from warrantdesk.operator_keys import SETTING, parse_retired

    try:
        text = env_secret("WARRANTDESK_RETIRED_SIGNING_KEYS") or ""
    except OSError as exc:
        raise ImproperlyConfigured(f"{SETTING}_FILE: cannot be read ({exc.strerror or exc})") from exc
    try:
        parse_retired(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{SETTING}: {exc}") from exc
    return text


WARRANTDESK_RETIRED_SIGNING_KEYS = _retired_signing_keys()
# The key store of data keys (warrantdesk/keystore.py): "dir" (a 0700 directory of 0600 files, on
# storage every worker machine reads and outside the database's backups) or "vault" (HashiCorp Vault
# KV v2 via hvac: WARRANTDESK_VAULT_URL, WARRANTDESK_VAULT_TOKEN[_FILE], _MOUNT, _PATH).
WARRANTDESK_KEYSTORE = os.environ.get("WARRANTDESK_KEYSTORE", "dir")
WARRANTDESK_KEYRING_DIR = Path(os.environ.get("WARRANTDESK_KEYRING_DIR", VAR_DIR / "keyring"))
WARRANTDESK_VAULT_URL = os.environ.get("WARRANTDESK_VAULT_URL", "")
WARRANTDESK_VAULT_TOKEN = env_secret("WARRANTDESK_VAULT_TOKEN", missing_ok=True) or ""
WARRANTDESK_VAULT_MOUNT = os.environ.get("WARRANTDESK_VAULT_MOUNT", "secret")
WARRANTDESK_VAULT_PATH = os.environ.get("WARRANTDESK_VAULT_PATH", "warrantdesk")
WARRANTDESK_EXPORT_LINK_HOURS = env_int("WARRANTDESK_EXPORT_LINK_HOURS", 72)

# The ETSI HI-1 interface (hi1/): the largest message accepted (checked before parsing; base64 PDFs
# inside make a message a third larger than its documents) and our own endpoint identifier.
WARRANTDESK_HI1_MAX_BYTES = env_int("WARRANTDESK_HI1_MAX_BYTES", 30 * 1024 * 1024)
WARRANTDESK_HI1_COUNTRY = os.environ.get("WARRANTDESK_HI1_COUNTRY", "KR")
WARRANTDESK_HI1_IDENTIFIER = os.environ.get("WARRANTDESK_HI1_IDENTIFIER", "warrantdesk")
# Crypto-shredding (disclosure/shredding.py): a delivered package's file is deleted this many days after
# its first delivery (its manifest is kept); a closed warrant's keys are destroyed this many days after
# closure, unless a preservation order postpones it.
WARRANTDESK_PACKAGE_DAYS = env_int("WARRANTDESK_PACKAGE_DAYS", 30)
WARRANTDESK_KEY_DESTROY_DAYS = env_int("WARRANTDESK_KEY_DESTROY_DAYS", 30)
# The language of the export's PDF report (its cover, headings and "참여자 7" aliases): the agency's
# language, not the exporting officer's UI language ("ko" or "en"). JSON and CSV are language-neutral.
WARRANTDESK_REPORT_LANGUAGE = os.environ.get("WARRANTDESK_REPORT_LANGUAGE", "ko")
WARRANTDESK_PDF_PER_VOLUME = env_int("WARRANTDESK_PDF_PER_VOLUME", 1500)
WARRANTDESK_PDF_PROCESSES = env_int("WARRANTDESK_PDF_PROCESSES", 0) or None  # default: one per CPU
# From this many messages on, an export (outside a transaction, on a database file or server) reads its
# rows in a second process while it writes (disclosure/reader.py); below it the process is not worth it.
WARRANTDESK_EXPORT_READER_MIN_MESSAGES = env_int("WARRANTDESK_EXPORT_READER_MIN_MESSAGES", 50_000)
# Retention of the conversation store (disclosure/retention.py, the hourly "retention.purge" job): a
# message is deleted, and its day's key destroyed or rotated, once it is older than this many days,
# unless a preservation hold keeps it. A warrant's hold lasts until the warrant is closed plus
# WARRANTDESK_HOLD_MARGIN_DAYS (a rejected warrant's hold is released at once).
WARRANTDESK_RETENTION_DAYS = env_int("WARRANTDESK_RETENTION_DAYS", 3)
WARRANTDESK_HOLD_MARGIN_DAYS = env_int("WARRANTDESK_HOLD_MARGIN_DAYS", 30)
if WARRANTDESK_RETENTION_DAYS < 1 or WARRANTDESK_HOLD_MARGIN_DAYS < 0:
    raise ImproperlyConfigured("WARRANTDESK_RETENTION_DAYS must be at least 1, WARRANTDESK_HOLD_MARGIN_DAYS at least 0")
# Follow-up requests: the hard cap of pseudonyms per request, and when reviewers are warned of a
# fishing request (more tokens than this, or more than this share of one room's pseudonymised people).
# Demo mode (`make run` turns it on in scripts/serve.sh; off by default and in production): the
# "Log a warrant" page and the follow-up form offer validly signed sample documents of the demo
# agency (signed by the demo PKI that seed_demo keeps in VAR_DIR/demo-pki). Off, those routes are 404.
WARRANTDESK_DEMO = env_bool("WARRANTDESK_DEMO", False)
WARRANTDESK_FOLLOWUP_MAX_TOKENS = env_int("WARRANTDESK_FOLLOWUP_MAX_TOKENS", 20)
WARRANTDESK_FOLLOWUP_WARN_TOKENS = env_int("WARRANTDESK_FOLLOWUP_WARN_TOKENS", 5)
WARRANTDESK_FOLLOWUP_WARN_SHARE = float(os.environ.get("WARRANTDESK_FOLLOWUP_WARN_SHARE", "0.3"))

# Mail (Django 6.1 MAILERS; the old EMAIL_* settings must not be set).
_mail_backend = os.environ.get("MAIL_BACKEND", "console")
if _mail_backend == "smtp":
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ.get("SMTP_HOST", "127.0.0.1"),
                "port": env_int("SMTP_PORT", 25),
                "username": env_secret("SMTP_USER") or "",
                "password": env_secret("SMTP_PASSWORD") or "",
                "use_tls": env_bool("SMTP_STARTTLS", False),
                "timeout": env_int("SMTP_TIMEOUT", 20),
            },
        }
    }
elif _mail_backend == "console":
    # One line per message (Message-ID, language, recipient domain), not the notices' full text.
    MAILERS = {"default": {"BACKEND": "warrantdesk.mail.EmailBackend"}}
else:  # "console-full" prints whole messages (Django's console backend); also locmem, dummy
    _mail_backend = "console" if _mail_backend == "console-full" else _mail_backend
    MAILERS = {"default": {"BACKEND": f"django.core.mail.backends.{_mail_backend}.EmailBackend"}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "privacy@warrantdesk.invalid")

# User notifications (disclosure/notifications/, docs/design-notes.md "User notifications").
# Due this many days after the delivery of the export that disclosed the person (emergency warrants
# may have their own delay). Pseudonymised non-targets who were never revealed are not notified by
# default: their identity never left the operator, and a notice would itself reveal to them (and to
# anyone reading their mail) that they were caught up in an investigation of someone else.
WARRANTDESK_NOTIFY_AFTER_DAYS = env_int("WARRANTDESK_NOTIFY_AFTER_DAYS", 30)
WARRANTDESK_NOTIFY_AFTER_DAYS_EMERGENCY = env_int("WARRANTDESK_NOTIFY_AFTER_DAYS_EMERGENCY", 30)
WARRANTDESK_NOTIFY_PSEUDONYMISED = env_bool("WARRANTDESK_NOTIFY_PSEUDONYMISED", False)
WARRANTDESK_NOTIFY_MAX_ATTEMPTS = env_int("WARRANTDESK_NOTIFY_MAX_ATTEMPTS", 6)
WARRANTDESK_NOTIFY_BATCH = env_int("WARRANTDESK_NOTIFY_BATCH", 500)
# Notices claimed (and recorded sent) together: a worker killed outright leaves at most this many
# unconfirmed (SENDING) rows for the legal team to check in the mail log.
WARRANTDESK_NOTIFY_GROUP = env_int("WARRANTDESK_NOTIFY_GROUP", 50)
# The domain of the notices' Message-IDs (fixed per notification when it is planned) and whom to contact.
WARRANTDESK_MAIL_DOMAIN = os.environ.get("WARRANTDESK_MAIL_DOMAIN", "warrantdesk.invalid")
WARRANTDESK_PRIVACY_CONTACT = os.environ.get("WARRANTDESK_PRIVACY_CONTACT", DEFAULT_FROM_EMAIL)
# Who the notices come from: the operator's legal name and postal address, printed as the sender of
# paper letters and in the footer of e-mails (a letter must say where to answer). Lines of the address
# are separated by newlines or " | ". The defaults are placeholders for the demo: set both in production.
WARRANTDESK_OPERATOR_NAME = os.environ.get("WARRANTDESK_OPERATOR_NAME", "Example Messenger Co., Ltd. (demo)")
WARRANTDESK_OPERATOR_ADDRESS = os.environ.get(
    "WARRANTDESK_OPERATOR_ADDRESS", "Legal Team | 100 Sejong-daero, Jung-gu | Seoul 04524 | Republic of Korea"
)

# Background tasks: database-backed worker (`manage.py db_worker`) unless configured otherwise.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Staff: the web UI's session, once past the second factor. Scripts and systems: their API
        # client's token (no staff password over HTTP Basic; see "Staff security" below).
        "warrantdesk.two_factor.VerifiedSessionAuthentication",
        "warrantdesk.api_clients.ClientTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["warrantdesk.api_permissions.DenyAll"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "warrantdesk.api.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "warrantdesk.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "warrantdesk API",
    "DESCRIPTION": "Lawful-access warrant intake, verification and disclosure.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["warrantdesk.api_permissions.LoggedIn"],
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set used under several field names ("status", "to", "kind"): without these the
    # schema gets hashed names such as Status6ccEnum, and `check --deploy` warns about each.
    "ENUM_NAME_OVERRIDES": {
        "WarrantStatusEnum": "requests_app.workflow.Status",
        "FollowUpStatusEnum": "requests_app.models.FollowUpRequest.Status",
        "WarrantKindEnum": "requests_app.models.Warrant.Kind",
        "TargetKindEnum": "requests_app.models.WarrantTarget.Kind",
        "DocumentKindEnum": "requests_app.models.Document.Kind",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",  # no CDN: the favicon too comes from the sidecar package
    # Every error response an operation can give, with its body (warrantdesk/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "warrantdesk.openapi.add_error_responses",
    ],
}

# --- Deployment (README "Deployment", deploy/) -----------------------------------------------------------
# WARRANTDESK_PRODUCTION=1 turns on the production defaults below (manifest static files, HTTPS only,
# HSTS, secure cookies, JSON logs); each stays overridable by its own variable. Off (the default), the
# settings suit a developer machine and the tests.
WARRANTDESK_PRODUCTION = env_bool("WARRANTDESK_PRODUCTION", False)
if WARRANTDESK_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("WARRANTDESK_PRODUCTION and DEBUG cannot both be on")
# Persistent connections (seconds; gunicorn's sync workers keep one each), checked before reuse so that a
# restarted PostgreSQL costs one failed request per worker at most, not a restart of the app.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60 if WARRANTDESK_PRODUCTION else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DB_CONN_HEALTH_CHECKS", True)

# /healthz and /readyz answer before any other middleware (no host check, no HTTPS redirect, no session):
# load balancers probe the machine's own address over plain HTTP (warrantdesk/health.py).
MIDDLEWARE.insert(0, "warrantdesk.health.HealthCheckMiddleware")
# Static files served by the app itself (WhiteNoise), right after SecurityMiddleware; in production the
# compressed, content-hashed copies that `manage.py collectstatic` writes to STATIC_ROOT.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
# The request id and the user id of every log line of a request (warrantdesk/logs.py).
MIDDLEWARE.insert(
    MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1, "warrantdesk.logs.RequestLogMiddleware"
)
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
_static_manifest = env_bool("WARRANTDESK_STATIC_MANIFEST", WARRANTDESK_PRODUCTION)
WHITENOISE_USE_FINDERS = not _static_manifest  # without collectstatic (development, tests): from static/
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing one
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _static_manifest
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# HTTPS. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1 (only if the proxy always sets
# X-Forwarded-Proto and strips the client's own), and SECURE_SSL_REDIRECT=0 if the proxy redirects itself.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", WARRANTDESK_PRODUCTION)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if WARRANTDESK_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", WARRANTDESK_PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", WARRANTDESK_PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", SESSION_COOKIE_SECURE or WARRANTDESK_PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (Django's own): scripts and styles from this origin or carrying the request's
# nonce ({{ csp_nonce }}); nothing inline without it, no eval, no plug-ins, no framing, forms post here.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
)
TEMPLATES[0]["OPTIONS"]["context_processors"].append("django.template.context_processors.csp")  # type: ignore[index]
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Logs: one JSON object per line in production (LOG_FORMAT=json), with the request id and the user's
# numeric id, never a name, e-mail address, phone number, password or token (warrantdesk/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if WARRANTDESK_PRODUCTION else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "warrantdesk.logs.RequestContextFilter"},
        "scrub": {"()": "warrantdesk.logs.ScrubFilter"},
    },
    "formatters": {
        "plain": {
            "()": "warrantdesk.logs.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s u=%(user_id)s] %(message)s",
        },
        "json": {"()": "warrantdesk.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "scrub"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "WARNING"},
    },
}

# --- File storage (README "File storage (S3)") ------------------------------------------------------------
# Every stored file (documents, signatures, export packages, identity sheets) goes through
# STORAGES["default"], sealed by warrantdesk/sealed.py before it leaves the process: the file system under
# MEDIA_ROOT ("file", the default) or an S3-compatible bucket ("s3", django-storages with ranged reads,
# warrantdesk/storage.py). The key store is not in it (WARRANTDESK_KEYSTORE above).
WARRANTDESK_STORAGE = os.environ.get("WARRANTDESK_STORAGE", "file").strip().lower()
if WARRANTDESK_STORAGE not in {"file", "s3"}:
    raise ImproperlyConfigured("WARRANTDESK_STORAGE must be file or s3")
if WARRANTDESK_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("WARRANTDESK_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None  # unset: AWS itself
    AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
    AWS_S3_ADDRESSING_STYLE = os.environ.get("AWS_S3_ADDRESSING_STYLE") or None  # "path" for most S3-compatibles
    AWS_LOCATION = os.environ.get("AWS_LOCATION", "")  # a prefix inside the bucket
    # Unset: boto3's own chain (instance role, ~/.aws, AWS_* variables).
    AWS_S3_ACCESS_KEY_ID = env_secret("AWS_ACCESS_KEY_ID")
    AWS_S3_SECRET_ACCESS_KEY = env_secret("AWS_SECRET_ACCESS_KEY")
    AWS_S3_VERIFY = os.environ.get("AWS_S3_CA_BUNDLE") or None  # a private CA's bundle
    # The files are sealed already; S3's server-side encryption (AES256 or aws:kms) is an extra layer.
    AWS_S3_OBJECT_PARAMETERS = (
        {"ServerSideEncryption": sse} if (sse := os.environ.get("AWS_S3_SERVER_SIDE_ENCRYPTION")) else {}
    )
    AWS_DEFAULT_ACL = None  # the bucket's own (private)
    AWS_QUERYSTRING_AUTH = True  # no public URL: files go out only through permission-checked views
    STORAGES["default"] = {"BACKEND": "warrantdesk.storage.S3Storage"}

# --- Staff security (README "Staff accounts and API clients") ---------------------------------------------
# Two-factor sign-in for every account (django-otp: TOTP devices, single-use recovery codes as static
# tokens; warrantdesk/two_factor.py), lockout after repeated failed sign-ins (django-axes, answering like
# a wrong password), an idle timeout, rate limits of sensitive API actions, and API clients with tokens.
_apps_before = INSTALLED_APPS.index("warrantdesk")  # before it: warrantdesk/admin.py unregisters their admins
INSTALLED_APPS[_apps_before:_apps_before] = [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
]
# django-otp's middleware reads the verified device from the session; the idle timeout and the
# second-factor gate come after the messages; django-axes' middleware last, as it asks.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
    "warrantdesk.two_factor.IdleTimeoutMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("warrantdesk.two_factor.IdleTimeoutMiddleware") + 1,
    "warrantdesk.two_factor.SecondFactorMiddleware",
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS.insert(0, "warrantdesk.two_factor.AxesBackend")
OTP_TOTP_ISSUER = os.environ.get("WARRANTDESK_OTP_ISSUER", "warrantdesk")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Minutes without a request after which a session is signed out (0: never).
WARRANTDESK_IDLE_MINUTES = env_int("WARRANTDESK_IDLE_MINUTES", 30)
# Lockout: after this many failed sign-ins for a user name (known or not), every sign-in with it fails
# for WARRANTDESK_LOCKOUT_MINUTES, with the page a wrong password gets.
AXES_FAILURE_LIMIT = env_int("WARRANTDESK_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = env_int("WARRANTDESK_LOCKOUT_MINUTES", 15) / 60  # hours
# By user name only: a lockout by address would lock a whole office behind one NAT address; guessing
# across many names still needs each account's second factor.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "warrantdesk.two_factor.lockout_response"
AXES_VERBOSE = False  # its log lines name the user and the address
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit log
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # not a line per sign-in: the audit log has them
# Stronger than the list above: 12 characters at least, not all digits.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Rate limits of sensitive API actions (warrantdesk/api_clients.py SensitiveActionThrottle), per user or
# API client, counted in a database cache table shared by every process ("N/second|minute|hour|day").
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "warrantdesk_rate_limits"},
}
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["warrantdesk.api_clients.SensitiveActionThrottle"]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "exports": os.environ.get("WARRANTDESK_RATE_EXPORTS", "30/hour"),
    "downloads": os.environ.get("WARRANTDESK_RATE_DOWNLOADS", "60/hour"),
    "links": os.environ.get("WARRANTDESK_RATE_LINKS", "30/hour"),
    "reveal-requests": os.environ.get("WARRANTDESK_RATE_REVEAL_REQUESTS", "30/hour"),
    "reveals": os.environ.get("WARRANTDESK_RATE_REVEALS", "60/hour"),
}
