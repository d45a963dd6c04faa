"""Settings, read from the environment (django-environ; ``NAME_FILE`` works for secrets).

Embedded default: SQLite under ``var/``, Celery tasks run eagerly, no services needed.
Production: set ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (Celery broker and cache).
Every gateway setting is listed in docs/configuration.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

from gateway import origin
from gateway.observability import logs

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("GATEWAY_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.FileAwareEnv()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default runs without configuration; production must set DJANGO_SECRET_KEY
# (or DJANGO_SECRET_KEY_FILE). The fallback is only ever used on a developer's machine.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="embedded-default-insecure-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "gateway.admin_apps.GatewayAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "gateway.admin_apps.TOTPDevicesConfig",  # django_otp.plugins.otp_totp, titled for people
    "gateway.admin_apps.LoginLockoutsConfig",  # axes, titled for people
    "health_check",
    "django_prometheus",
    "django_structlog",
    "gateway.audit",
    "gateway.outbox",
    "gateway.signing",
    "countries",
    "publication",
    "trustlist",
    "rules",
    "revocation",
    "issuers",
    "migration",
    "references",
    "federation",
    "oversight",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "gateway.middleware.BoundedBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    # Paths no route names (control characters, not UTF-8, too long): refused before any view,
    # with the person known (after authentication) and the request logged (after structlog).
    "countries.paths.RequestPathMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# --- People: admin login with a one-time password, lockout after failures ---------------------
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Passwords guard keys of national PKIs: long, not common, not the username (NIST SP 800-63B §5.1.1).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The login's limits (README, "People"): django-axes locks a username at one address after
# GATEWAY_LOGIN_FAILURE_LIMIT failures (wrong username, password or one-time password) for the
# cool-off; countries/login_limits.py holds a username back, from every address but those it
# logged in from lately, for the rest of a short window after GATEWAY_LOGIN_ACCOUNT_LIMIT failures
# in it. The first cannot be used against others, the second cannot lock anyone out.
AXES_FAILURE_LIMIT = env.int("GATEWAY_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("GATEWAY_LOGIN_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "countries.login.lockout_response"  # the login page, 429 with Retry-After
GATEWAY_LOGIN_ACCOUNT_LIMIT = env.int("GATEWAY_LOGIN_ACCOUNT_LIMIT", default=10)
GATEWAY_LOGIN_ACCOUNT_WINDOW = env.int("GATEWAY_LOGIN_ACCOUNT_WINDOW", default=600)  # seconds
GATEWAY_LOGIN_KNOWN_ADDRESS_DAYS = env.int("GATEWAY_LOGIN_KNOWN_ADDRESS_DAYS", default=30)
AXES_DISABLE_ACCESS_LOG = False  # django-axes' log of logins is where the known addresses come from
# No device throttle: its wait doubles without end (after 20 failures, days), so whoever has the
# password could keep its owner out; the limits above count one-time password failures instead.
OTP_TOTP_THROTTLE_FACTOR = 0
# The client's address as nginx saw it, believed only from the proxy (countries/identity.py): the
# lock is per (username, address), so it must be the client's, never empty (every client behind
# nginx would share one lock) nor chosen by the client (who would dodge it).
AXES_CLIENT_IP_CALLABLE = "countries.identity.client_address"
AXES_RESET_ON_SUCCESS = True
OTP_TOTP_ISSUER = env.str("GATEWAY_OTP_ISSUER", default="Trust gateway")
# Cookies only over HTTPS in production; the embedded default serves plain HTTP on loopback.
SECURE_COOKIES = env.bool("GATEWAY_SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_AGE = env.int("GATEWAY_SESSION_SECONDS", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
# Behind the TLS terminator (the stack, docker/): nginx says the request came over HTTPS, so
# Django can insist on it and announce HSTS (`manage.py check --deploy` is then clean).
BEHIND_TLS_PROXY = env.bool("GATEWAY_BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env.int("GATEWAY_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("GATEWAY_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("GATEWAY_HSTS_PRELOAD", default=True)
# The origin browsers use (scheme://host[:port], gateway/origin.py). Django's CSRF check accepts a
# form whose Origin header is the request's own scheme and Host; behind nginx on a port other than
# 443 that holds only if nginx passes the port on (it does: Host $http_host), and a deployment that
# rewrites Host would refuse every admin form (403). Naming the origin makes the check hold either
# way, and a redirect to HTTPS goes to it rather than to whatever Host a plain request named.
PUBLIC_ORIGIN = env.str("GATEWAY_PUBLIC_ORIGIN", default="")
if PUBLIC_ORIGIN:
    _public = origin.parse_origin(PUBLIC_ORIGIN)
    CSRF_TRUSTED_ORIGINS = [str(_public)]
    SECURE_SSL_HOST = _public.netloc
    if _public.host not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_public.host)

ROOT_URLCONF = "gateway.urls"
WSGI_APPLICATION = "gateway.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gateway" / "templates"],  # the project's own pages (the landing page)
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'gateway.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Uploads are short write transactions; wait for the writer lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    # A file, not the shared-cache in-memory default: shared-cache locks ignore the busy
    # timeout, so concurrent writers would fail instead of waiting as they do in production.
    # Per process, so that concurrent test runs do not share one file.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / f"test-gateway-{os.getpid()}.sqlite3")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding: parameters travel apart from the statement, and psycopg prepares a
    # statement the connection has run 5 times, so PostgreSQL stops parsing and planning the
    # upload path's statements on every request (bench/upload.py: about 10 % less CPU per upload).
    # Turn off behind a pooler that cannot keep prepared statements (PgBouncer before 1.21 in
    # transaction mode).
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env.bool(
        "DATABASE_SERVER_SIDE_BINDING", default=True
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "gateway.cache.RedisCache",  # one client per pool, not per call
            "LOCATION": REDIS_URL,
            # The request path asks the cache whether a publication is pending: a Redis that
            # hangs costs an upload 2 s (redis-py's default: 5 s), then the beat sweeper publishes.
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# A named host: kombu warns about a memory:// URL without one each time a task is sent.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_BROKER_TRANSPORT = "gateway.broker:Transport" if REDIS_URL else None  # survives losing Redis
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Requests from clients are bounded before any view reads them (gateway.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("GATEWAY_MAX_BODY_BYTES", default=64 * 1024)
GATEWAY_MAX_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "countries.refusals.exception_handler",  # the problem report, audited
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trust gateway API",
    "DESCRIPTION": "DGCG- and TNG-compatible API for exchanging digital health certificate trust.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Trust model -------------------------------------------------------------------------
# PEM files of the trust anchor certificate(s) whose signatures make an onboarded entry valid.
GATEWAY_TRUST_ANCHOR_FILES = env.list("GATEWAY_TRUST_ANCHOR_FILES", default=[])
# Virtual test countries accepted in addition to ISO 3166-1 alpha-2.
GATEWAY_VIRTUAL_COUNTRIES = env.list("GATEWAY_VIRTUAL_COUNTRIES", default=["XA", "XB", "XC"])

# --- Client identity from the TLS terminator ---------------------------------------------
# Only requests whose REMOTE_ADDR is in one of these networks may carry identity headers.
GATEWAY_TRUSTED_PROXIES = env.list("GATEWAY_TRUSTED_PROXIES", default=[])
GATEWAY_HEADER_CLIENT_SHA256 = env.str("GATEWAY_HEADER_CLIENT_SHA256", default="X-SSL-Client-SHA256")
GATEWAY_HEADER_CLIENT_DN = env.str("GATEWAY_HEADER_CLIENT_DN", default="X-SSL-Client-DN")
GATEWAY_HEADER_CLIENT_CERT = env.str("GATEWAY_HEADER_CLIENT_CERT", default="X-SSL-Client-Cert")
# The client's address (nginx: $remote_addr), believed only from a trusted proxy as the identity headers are.
GATEWAY_HEADER_CLIENT_ADDRESS = env.str("GATEWAY_HEADER_CLIENT_ADDRESS", default="X-Real-IP")
# A secret the TLS terminator adds to every request; when set, identity headers without it are ignored.
GATEWAY_PROXY_SECRET = env.str("GATEWAY_PROXY_SECRET", default="")
GATEWAY_HEADER_PROXY_SECRET = env.str("GATEWAY_HEADER_PROXY_SECRET", default="X-Gateway-Proxy-Secret")

# --- DSC and CMS policy (docs/policy.md) ---------------------------------------------------
# A profile gives every switch its default: ``strict`` for a new network, ``dgcg`` for what the
# EU gateway accepted from real national backends. A switch set here overrides its profile;
# unset (None), the profile decides (countries.policy reads both at each use).
GATEWAY_POLICY_PROFILE = env.str("GATEWAY_POLICY_PROFILE", default="strict")  # checked: countries.apps
GATEWAY_POLICY_REQUIRE_DER = env.bool("GATEWAY_POLICY_REQUIRE_DER", default=None)
GATEWAY_POLICY_CHECK_SERIAL = env.bool("GATEWAY_POLICY_CHECK_SERIAL", default=None)
GATEWAY_POLICY_REJECT_UNKNOWN_CRITICAL_EXTENSIONS = env.bool(
    "GATEWAY_POLICY_REJECT_UNKNOWN_CRITICAL_EXTENSIONS", default=None
)
GATEWAY_POLICY_CHECK_VALIDITY = env.bool("GATEWAY_POLICY_CHECK_VALIDITY", default=None)
GATEWAY_POLICY_REJECT_NOT_YET_VALID = env.bool("GATEWAY_POLICY_REJECT_NOT_YET_VALID", default=None)
GATEWAY_POLICY_CHECK_KEY = env.bool("GATEWAY_POLICY_CHECK_KEY", default=None)
GATEWAY_POLICY_MIN_RSA_BITS = env.int("GATEWAY_POLICY_MIN_RSA_BITS", default=None)
GATEWAY_POLICY_CHECK_SIGNATURE_ALGORITHM = env.bool("GATEWAY_POLICY_CHECK_SIGNATURE_ALGORITHM", default=None)
GATEWAY_POLICY_ALLOW_SHA1_SIGNATURES = env.bool("GATEWAY_POLICY_ALLOW_SHA1_SIGNATURES", default=None)
GATEWAY_POLICY_REJECT_CA_DSC = env.bool("GATEWAY_POLICY_REJECT_CA_DSC", default=None)
GATEWAY_POLICY_ALLOW_SELF_SIGNED_CSCA_AS_DSC = env.bool("GATEWAY_POLICY_ALLOW_SELF_SIGNED_CSCA_AS_DSC", default=None)
GATEWAY_POLICY_REQUIRE_VALID_CSCA = env.bool("GATEWAY_POLICY_REQUIRE_VALID_CSCA", default=None)
GATEWAY_POLICY_CMS_ALLOW_SHA1 = env.bool("GATEWAY_POLICY_CMS_ALLOW_SHA1", default=None)
GATEWAY_POLICY_CMS_REQUIRE_SIGNED_ATTRIBUTES = env.bool("GATEWAY_POLICY_CMS_REQUIRE_SIGNED_ATTRIBUTES", default=None)
# A revocation must carry a new signature by the UPLOAD key, not a replay of the upload's
# (docs/policy.md); false: DGCG's behaviour, where the TLS key and any published CMS suffice.
GATEWAY_REVOCATION_REQUIRE_FRESH_SIGNATURE = env.bool("GATEWAY_REVOCATION_REQUIRE_FRESH_SIGNATURE", default=True)

# --- TNG /trustedCertificate -------------------------------------------------------------
GATEWAY_TRUSTED_CERTIFICATE_DEFAULT_DOMAIN = env.str("GATEWAY_TRUSTED_CERTIFICATE_DEFAULT_DOMAIN", default="DCC")
GATEWAY_TRUSTED_CERTIFICATE_DOMAINS = env.list(
    "GATEWAY_TRUSTED_CERTIFICATE_DOMAINS", default=["DCC", "IPS-PILGRIMAGE", "DICVP", "PH4H"]
)
GATEWAY_TRUSTED_CERTIFICATE_PROPERTIES = env.list(
    "GATEWAY_TRUSTED_CERTIFICATE_PROPERTIES",
    default=[
        "purpose",
        "usergroup",
        "scope",
        "standard",
        "displayName",
        "displayLogo",
        "validFrom",
        "validUntil",
        "pubkey",
        "displayURL",
    ],
)

# --- Trusted issuers (docs/issuers.md) ----------------------------------------------------------
# Which string the trust anchor's signature over an issuer covers when ta_sign_issuer makes one:
# "dgcg", `country;name;url;urlType;` (DGCG and the EU dgc-lib), or "tng", without the trailing
# `;` (TNG and ddcc-gateway-lib). Both are accepted when verifying.
GATEWAY_ISSUER_SIGNATURE_FORMAT = env.str("GATEWAY_ISSUER_SIGNATURE_FORMAT", default="dgcg").strip().lower()

# --- Operations (docs/operations.md) ---------------------------------------------------------
# JSON lines (structlog) unless GATEWAY_LOG_FORMAT=console; the request id follows a change
# into its Celery task.
LOGGING = logs.logging_config(
    json_format=env.str("GATEWAY_LOG_FORMAT", default="console" if DEBUG else "json") == "json",
    level=env.str("LOG_LEVEL", default="INFO"),
)
logs.configure_structlog()
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Take nginx's X-Request-ID ($request_id) instead of making one; only behind the proxy.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env.bool("GATEWAY_TRUST_UPSTREAM_REQUEST_ID", default=False)
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False  # nginx logs the client address with the same request id
# /health/ fails when a committed change has waited longer than this to be published (seconds).
GATEWAY_HEALTH_MAX_PUBLICATION_LAG = env.int("GATEWAY_HEALTH_MAX_PUBLICATION_LAG", default=300)

# --- Publication for verifiers (docs/publication-format.md) ---------------------------------
GATEWAY_PUBLISH_DIR = env.str("GATEWAY_PUBLISH_DIR", default=str(VAR_DIR / "publish"))
GATEWAY_PUBLISHER_KEY_DIR = env.str("GATEWAY_PUBLISHER_KEY_DIR", default=str(VAR_DIR / "publisher"))
GATEWAY_PUBLISH_VALIDITY = env.int("GATEWAY_PUBLISH_VALIDITY", default=48 * 3600)  # seconds an index is valid
GATEWAY_PUBLISH_RENEW_AFTER = env.int("GATEWAY_PUBLISH_RENEW_AFTER", default=12 * 3600)  # re-sign when older
# How far back the chain of deltas reaches (docs/publication-format.md): at least this many
# sequences, and every sequence of the last GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS (so a verifier that
# syncs daily catches up by deltas), but not more than GATEWAY_PUBLISH_DELTA_WINDOW_MAX sequences
# (beyond, the full lists cost a verifier less than walking the chain); always back to the full lists.
GATEWAY_PUBLISH_DELTA_WINDOW = env.int("GATEWAY_PUBLISH_DELTA_WINDOW", default=100)
GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS = env.int("GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS", default=86400)
GATEWAY_PUBLISH_DELTA_WINDOW_MAX = env.int("GATEWAY_PUBLISH_DELTA_WINDOW_MAX", default=1000)
# Spans (the changes from one full-list sequence to a later one) keep verifiers beyond the chain
# of deltas on changes: one at most every GATEWAY_PUBLISH_SPAN_SECONDS (sooner once nearly as many
# sequences followed the last as the chain of deltas reaches), kept GATEWAY_PUBLISH_SPAN_KEEP_SECONDS.
GATEWAY_PUBLISH_SPAN_SECONDS = env.int("GATEWAY_PUBLISH_SPAN_SECONDS", default=3600)
GATEWAY_PUBLISH_SPAN_KEEP_SECONDS = env.int("GATEWAY_PUBLISH_SPAN_KEEP_SECONDS", default=30 * 86400)
GATEWAY_PUBLISH_KEEP_FULL = env.int("GATEWAY_PUBLISH_KEEP_FULL", default=3)  # sequences with full lists on disk
GATEWAY_PUBLISH_DID = env.bool("GATEWAY_PUBLISH_DID", default=True)
# Full lists are rebuilt in the background after this many deltas, or seconds after the first
# delta they lack (without a broker: right after each publication, there is no background).
GATEWAY_PUBLISH_FULL_AFTER_DELTAS = env.int("GATEWAY_PUBLISH_FULL_AFTER_DELTAS", default=50)
GATEWAY_PUBLISH_FULL_AFTER_SECONDS = env.int("GATEWAY_PUBLISH_FULL_AFTER_SECONDS", default=10 if REDIS_URL else 0)
GATEWAY_DID_ID = env.str("GATEWAY_DID_ID", default="did:web:gateway.example:trustlist")
GATEWAY_VIRTUAL_COUNTRY_ALPHA3 = env.dict(
    "GATEWAY_VIRTUAL_COUNTRY_ALPHA3", default={"XA": "XXA", "XB": "XXB", "XC": "XXC"}
)
# Celery: a broker that is down must not hold up a request for long; the beat sweeper publishes later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_BEAT_SCHEDULE = {
    # Publishes what a lost task missed and renews the signature before the index expires.
    "publish-if-due": {
        "task": "trustlist.tasks.publish_if_due",  # publication/tasks.py (why this name: see there)
        "schedule": env.int("GATEWAY_PUBLISH_SWEEP", default=60),
    },
}

# --- Audit log (docs/audit.md) --------------------------------------------------------------
GATEWAY_AUDIT_ORIGIN = env.str("GATEWAY_AUDIT_ORIGIN", default="trust-gateway.example/audit")
GATEWAY_AUDIT_CHECKPOINT_INTERVAL = env.int("GATEWAY_AUDIT_CHECKPOINT_INTERVAL", default=60)  # seconds (MMD)
GATEWAY_AUDIT_EXPIRY_WARNING_DAYS = env.int("GATEWAY_AUDIT_EXPIRY_WARNING_DAYS", default=30)
# Signs the audit log's tree head when it grew: every event is under a signed checkpoint within
# this bound (RFC 9162's maximum merge delay).
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    "task": "gateway.audit.tasks.make_checkpoint",
    "schedule": GATEWAY_AUDIT_CHECKPOINT_INTERVAL,
}
CELERY_BEAT_SCHEDULE["signature-audit"] = {
    "task": "gateway.audit.tasks.run_signature_audit",  # oversight/tasks.py (why this name: see there)
    "schedule": env.int("GATEWAY_SIGNATURE_AUDIT_INTERVAL", default=3600),
}

# --- Business rules and value sets (docs/rules.md) ----------------------------------------------
# Where the scheduled import reads the value sets (empty: only `manage.py import_valuesets FILE`).
GATEWAY_VALUESETS_URL = env.str("GATEWAY_VALUESETS_URL", default="")
if GATEWAY_VALUESETS_URL:
    CELERY_BEAT_SCHEDULE["import-valuesets"] = {
        "task": "rules.tasks.import_valuesets",
        "schedule": env.int("GATEWAY_VALUESETS_IMPORT_SECONDS", default=86400),
    }

# --- Revocation batches (docs/revocation.md) ----------------------------------------------------
# DGCG's revocation_batch_cleanup runs daily: expired batches are marked deleted, deleted ones are
# removed after the delete threshold (dgc.revocation.delete-threshold, 14 days).
GATEWAY_REVOCATION_PURGE_DAYS = env.int("GATEWAY_REVOCATION_PURGE_DAYS", default=14)
CELERY_BEAT_SCHEDULE["revocation-cleanup"] = {
    "task": "revocation.tasks.clean_up_batches",
    "schedule": env.int("GATEWAY_REVOCATION_CLEANUP_SECONDS", default=86400),
}

# --- Federation (docs/federation.md) -----------------------------------------------------------
# This gateway's own id in the federation: peers configure it as this gateway's gateway_id, and
# it is the "source" of the entries onboarded here that they publish on (loops are refused by it).
GATEWAY_FEDERATION_ID = env.str("GATEWAY_FEDERATION_ID", default="trust-gateway.example")
# Whether the publication for verifiers carries the entries imported from peers (with their source).
GATEWAY_FEDERATION_PUBLISH = env.bool("GATEWAY_FEDERATION_PUBLISH", default=True)
GATEWAY_FEDERATION_TIMEOUT = env.int("GATEWAY_FEDERATION_TIMEOUT", default=60)  # one sync, every request
GATEWAY_FEDERATION_MAX_BACKOFF = env.int("GATEWAY_FEDERATION_MAX_BACKOFF", default=3600)
# Mutual TLS to TNG- and DGCG-compatible peers: this gateway's client certificate and key (files
# kept outside the repository, as secrets), and the CAs of the peers' servers (empty: the system's).
GATEWAY_FEDERATION_CLIENT_CERT = env.str("GATEWAY_FEDERATION_CLIENT_CERT", default="")
GATEWAY_FEDERATION_CLIENT_KEY = env.str("GATEWAY_FEDERATION_CLIENT_KEY", default="")
GATEWAY_FEDERATION_CA_FILE = env.str("GATEWAY_FEDERATION_CA_FILE", default="")
# /health/ fails for a scheduled peer not synced for 3 intervals, and at least this long.
GATEWAY_HEALTH_MAX_PEER_LAG = env.int("GATEWAY_HEALTH_MAX_PEER_LAG", default=900)
# How often beat looks for peers due (each peer has its own interval). A peer is synced at the
# first tick at or after its time (within half a tick: federation.services.due_peers), so a tick
# of one second keeps a change at a peer to visible here within its interval plus ~1 s of work.
GATEWAY_FEDERATION_TICK_SECONDS = env.int("GATEWAY_FEDERATION_TICK_SECONDS", default=1)
CELERY_BEAT_SCHEDULE["federation-sync"] = {
    "task": "federation.tasks.sync_due_peers",
    "schedule": GATEWAY_FEDERATION_TICK_SECONDS,
}
