"""Settings shared by every environment.

Every value a user may change is read from the environment here (django-environ) and listed in
`.env.example` and the README. Embedded defaults need no server: SQLite and a file-system Celery broker,
both under ``DATA_DIR``. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI as a pinned Python package: nothing from a CDN
    "django_filters",
    "django_celery_beat",
    "django_htmx",
    "template_partials",
    "csp",
    "core",
    "audit",
    "feeds",
    "targets",
    "rotations",
    "notifications",
    "findings",
    "dashboard",
    "accounts",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "core.middleware.SensitivePostParametersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.LoginRequiredMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "core.api.throttling.ExpensiveActionThrottleMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.roles",
                "dashboard.context_processors.nav_counts",
                "accounts.context_processors.sso",
            ],
        },
    }
]

# --- Database ----------------------------------------------------------------------------------
DATABASES = {
    # An empty DATABASE_URL means the embedded default, like an unset one.
    "default": env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'feedkeeper.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let web, worker and beat share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth --------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# django-axes first: it refuses a locked-out username and address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.oidc.OIDCBackend",
]
# Brute force: after LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is locked out
# for LOGIN_LOCKOUT_MINUTES (the same user from another address is not, so an attacker cannot lock an admin out).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "audit.context.client_ip"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# What axes masks in its log and in the request data it stores with an attempt: the defaults, and the single sign-on
# callback's code and state.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code", "state", "code_verifier"]
# Sessions end after this many minutes without activity (background refreshes of an open page do not count).
SESSION_IDLE_MINUTES = env.float("SESSION_IDLE_MINUTES", default=30.0)
# Roles that must use a second factor (TOTP) in a password session; empty: nobody must (anyone may).
MFA_REQUIRED_ROLES = [r.strip() for r in env.list("MFA_REQUIRED_ROLES", default=["admin"]) if r.strip()]
OTP_TOTP_ISSUER = "Feedkeeper"
# Single sign-on (OpenID Connect, authorization code with PKCE); off while OIDC_RP_CLIENT_ID is empty. The role comes
# from the ID provider's OIDC_ROLE_CLAIM through OIDC_ROLE_MAP ("idp-group=role,..."); no mapped role, no entry.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_ROLE_CLAIM = env.str("OIDC_ROLE_CLAIM", default="groups")
OIDC_ROLE_MAP = env.str("OIDC_ROLE_MAP", default="")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10
OIDC_AUTHENTICATE_CLASS = "accounts.oidc.StartView"
OIDC_AUTHENTICATION_CALLBACK_URL = "accounts:sso-callback"
LOGIN_REDIRECT_URL_FAILURE = "/login/"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

# --- I18N / time -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security headers --------------------------------------------------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True

# --- Feedkeeper --------------------------------------------------------------------------------
# Comma-separated Fernet keys; the first encrypts, all decrypt. Local runs generate one under DATA_DIR.
FIELD_ENCRYPTION_KEYS: list[str] = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# The key of the fingerprints (keyed hashes) that name secrets; not SECRET_KEY. Local runs generate one.
FINGERPRINT_KEY = env.str("FINGERPRINT_KEY", default="")
# Hosts that may be reached over plain http (feeds and targets). Empty by default.
PLAIN_HTTP_HOSTS: list[str] = [h.strip().lower() for h in env.list("PLAIN_HTTP_HOSTS", default=[]) if h.strip()]
# Expiry thresholds (days before a token or credential expires); within the largest it is "expiring".
EXPIRY_THRESHOLDS_DAYS: list[int] = sorted(
    {int(d) for d in env.list("EXPIRY_THRESHOLDS_DAYS", default=["30", "14", "7", "1"])}, reverse=True
)
EXPIRY_WARNING_DAYS = env.int("EXPIRY_WARNING_DAYS", default=EXPIRY_THRESHOLDS_DAYS[0])
# API tokens: the lifetime a new token gets unless another is chosen, and the longest one may have (days).
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=90)
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)
# Hosts (as written in URLs) that may resolve to loopback, private or link-local addresses: every other host is
# refused at connect time when it resolves to one (PLAIN_HTTP_HOSTS are allowed too). Empty by default.
PRIVATE_NETWORK_HOSTS: list[str] = [
    h.strip().lower() for h in env.list("PRIVATE_NETWORK_HOSTS", default=[]) if h.strip()
]
# A CA bundle (PEM file) to trust besides the system's, for platforms behind a corporate CA; empty: the system's.
CA_BUNDLE = env.str("CA_BUNDLE", default="")
# Microsoft's hosts, as settings so a simulator can stand in: Entra (sign-in) and Azure Artifacts feeds.
AZURE_ENTRA_URL = env.str("AZURE_ENTRA_URL", default="https://login.microsoftonline.com")
AZURE_DEVOPS_PKGS_URL = env.str("AZURE_DEVOPS_PKGS_URL", default="https://pkgs.dev.azure.com")
# Rotation: how often a running rotation looks at its deliveries; how long it waits for them before failing; the
# longest the previous token is kept for clusters that have not restarted; a scheduled start's look-ahead.
ROTATION_POLL_SECONDS = env.float("ROTATION_POLL_SECONDS", default=5.0)
ROTATION_VERIFY_TIMEOUT_SECONDS = env.float("ROTATION_VERIFY_TIMEOUT_SECONDS", default=3600.0)
ROTATION_MAX_GRACE_HOURS = env.float("ROTATION_MAX_GRACE_HOURS", default=7 * 24)
ROTATION_TEST_ATTEMPTS = env.int("ROTATION_TEST_ATTEMPTS", default=4)
# A rotation step silent this long lost its worker: another worker takes it over.
ROTATION_LEASE_SECONDS = env.float("ROTATION_LEASE_SECONDS", default=60.0)
# A target that rotates its own credential does so at the latest this many days before it expires; the old
# credential is revoked once no push or check that started with it is still running, and not before this grace.
CREDENTIAL_ROTATION_LEAD_DAYS = env.int("CREDENTIAL_ROTATION_LEAD_DAYS", default=14)
CREDENTIAL_REVOKE_GRACE_SECONDS = env.float("CREDENTIAL_REVOKE_GRACE_SECONDS", default=300.0)
# Timeouts (seconds) of the one HTTP seam.
HTTP_CONNECT_TIMEOUT = env.float("HTTP_CONNECT_TIMEOUT", default=5.0)
HTTP_READ_TIMEOUT = env.float("HTTP_READ_TIMEOUT", default=15.0)

# Pushing deliveries: retries of transient failures, and when the reconciler considers work lost.
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", default=6)
PUSH_BASE_BACKOFF_SECONDS = env.float("PUSH_BASE_BACKOFF_SECONDS", default=5.0)
PUSH_MAX_BACKOFF_SECONDS = env.float("PUSH_MAX_BACKOFF_SECONDS", default=300.0)
# A running push heartbeats this often; one silent for PUSH_STUCK_AFTER_SECONDS lost its worker and runs again.
PUSH_HEARTBEAT_SECONDS = env.float("PUSH_HEARTBEAT_SECONDS", default=10.0)
PUSH_STUCK_AFTER_SECONDS = env.float("PUSH_STUCK_AFTER_SECONDS", default=45.0)
# A push handed to the broker but not started this long was lost (a broker restarted empty): hand it over again.
PUSH_DISPATCH_LOST_AFTER_SECONDS = env.float("PUSH_DISPATCH_LOST_AFTER_SECONDS", default=60.0)
# How often the reconciler recovers lost pushes, and how often each target is asked what needs a push again.
PUSH_RECONCILE_EVERY_SECONDS = env.float("PUSH_RECONCILE_EVERY_SECONDS", default=15.0)
PUSH_COVERAGE_EVERY_SECONDS = env.float("PUSH_COVERAGE_EVERY_SECONDS", default=300.0)
# A worker that finished a push runs its target's next one itself, this many pushes or seconds at most.
PUSH_KEEP_SLOT_MAX = env.int("PUSH_KEEP_SLOT_MAX", default=50)
PUSH_KEEP_SLOT_SECONDS = env.float("PUSH_KEEP_SLOT_SECONDS", default=60.0)
# A worker takes at most this many of one target's dispatched pushes as one batch for the adapter.
PUSH_BATCH_MAX = env.int("PUSH_BATCH_MAX", default=50)
# A push whose platform calls take longer than this is abandoned and retried.
PUSH_DEADLINE_SECONDS = env.float("PUSH_DEADLINE_SECONDS", default=300.0)
# Tries of a push's database work (claim, outcome, dispatch) on a lock conflict or a dropped connection.
PUSH_DB_ATTEMPTS = env.int("PUSH_DB_ATTEMPTS", default=5)
# Valohai organization environment-variable groups: the endpoint is not publicly documented (experimental).
VALOHAI_GROUP_PATH = env.str("VALOHAI_GROUP_PATH", default="/api/v0/environment-variable-groups/")
# Scan each target for credentials in plain sight after every scheduled health check (findings).
FINDINGS_SCAN_AFTER_HEALTH = env.bool("FINDINGS_SCAN_AFTER_HEALTH", default=True)

# --- Notifications and metrics -------------------------------------------------------------------
# Outgoing mail in django-environ's form (smtp://user:pass@host:587, smtp+tls://..., consolemail://).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="feedkeeper@localhost")
# The dashboard's public address, for links in notifications (empty: links are paths only).
SITE_URL = env.str("SITE_URL", default="")
# Delivery of notifications: attempts, backoff between them, and how long a worker holds one it is sending.
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_BASE_BACKOFF_SECONDS = env.float("NOTIFICATION_BASE_BACKOFF_SECONDS", default=30.0)
NOTIFICATION_MAX_BACKOFF_SECONDS = env.float("NOTIFICATION_MAX_BACKOFF_SECONDS", default=1800.0)
NOTIFICATION_LEASE_SECONDS = env.float("NOTIFICATION_LEASE_SECONDS", default=120.0)
# A repeat of the same health transition of a target within this many minutes is not told again.
NOTIFICATION_QUIET_MINUTES = env.float("NOTIFICATION_QUIET_MINUTES", default=15.0)
# /metrics (Prometheus): a bearer token and/or client networks (CIDRs) allowed to scrape; neither set: 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS: list[str] = env.list("METRICS_ALLOWED_NETWORKS", default=[])

# Audit: days an event is kept (0 = forever; pruning keeps the chain verifiable from an anchor), and the proxies
# (IPs or CIDRs) whose X-Forwarded-For names the client's address; from anyone else the header is ignored.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=0)
TRUSTED_PROXIES: list[str] = [p.strip() for p in env.list("TRUSTED_PROXIES", default=[]) if p.strip()]

# --- Rate limits and the cache that counts them ------------------------------------------------------------
# Per API token, every request; per user, checks, pushes, scans and rotations (API and pages together). DRF's
# form: "600/minute", "30/min", "5/s"; empty turns the limit off. Answered 429 with Retry-After.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/minute")
EXPENSIVE_RATE_LIMIT = env.str("EXPENSIVE_RATE_LIMIT", default="30/minute")

# --- Celery ------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The cache holds the rate-limit counters, so every process must share it: Redis when REDIS_URL is set (keys under
# a prefix, beside Celery's), else files under DATA_DIR (web, worker and beat on one machine).
CACHES: dict[str, dict[str, object]] = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "feedkeeper"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(DATA_DIR / "cache")}
    )
}
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    # A file-system broker needs no server. Producers and consumers share one folder; core.broker makes kombu's
    # file-system transport write each message atomically.
    CELERY_BROKER_URL = "fsatomic://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
# The database is the source of truth for work; task results are not kept.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 10 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery closes every database connection before and after each task unless this is set, so each task of a worker
# thread opened a new PostgreSQL connection (a new server process). Set, Celery closes them only every this many
# tasks; config/celery_app.py closes a thread's connection before a task when it is broken or older than
# CONN_MAX_AGE, as Django does per request.
CELERY_DB_REUSE_MAX = 10_000

# --- REST framework ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    # Rates come from API_RATE_LIMIT and EXPENSIVE_RATE_LIMIT, read on each request (core.api.throttling).
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.ApiRateThrottle",
        "core.api.throttling.ExpensiveActionThrottle",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Feedkeeper API",
    "DESCRIPTION": "Private package feeds, their tokens, and where they are delivered.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The browsable page (/docs/api/) serves Swagger UI from drf-spectacular-sidecar, under the strict CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Feed and target checks share their kinds; one name for that enum wherever it appears.
    "ENUM_NAME_OVERRIDES": {"CheckKindEnum": "core.models.CheckRun.Kind"},
    # The document itself needs a login (a token or a session): it maps every endpoint.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Every operation documents 400/401/403/404/405/406/415/429 with their bodies (core.api.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_error_responses",
    ],
}

# --- Logging -----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Every handler redacts, Django's own included: its defaults (the runserver log, the admins' error mail) are
# redefined here with the filter, and core.apps adds it to any handler a library attaches later.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "core.redaction.RedactingFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        "django.server": {
            "level": "INFO",
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": LOG_LEVEL},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- Schedules (django-celery-beat copies these into its database on start; edit them in the admin) -----
CELERY_BEAT_SCHEDULE = {
    "check-all-feeds": {"task": "feeds.check_all_feeds", "schedule": 6 * 60 * 60},
    "reconcile-feed-checks": {"task": "feeds.reconcile_checks", "schedule": 60},
    "reconcile-pushes": {"task": "targets.reconcile_pushes", "schedule": PUSH_RECONCILE_EVERY_SECONDS},
    "cover-pushes": {"task": "targets.cover_pushes", "schedule": PUSH_COVERAGE_EVERY_SECONDS},
    "reconcile-target-checks": {"task": "targets.reconcile_target_checks", "schedule": 60},
    "check-all-targets": {"task": "targets.check_all_targets", "schedule": 30 * 60},
    "reconcile-scans": {"task": "findings.reconcile_scans", "schedule": 60},
    "rotations-tick": {"task": "rotations.tick", "schedule": 60},
    "destroy-retired-tokens": {"task": "dashboard.destroy_retired_tokens", "schedule": 60 * 60},
    "audit-seal": {"task": "audit.seal", "schedule": 60},
    "audit-verify": {"task": "audit.verify", "schedule": 60 * 60},
    "audit-prune": {"task": "audit.prune", "schedule": 24 * 60 * 60},
    "notifications-sweep": {"task": "notifications.sweep", "schedule": 60},
    "notifications-evaluate-expiry": {"task": "notifications.evaluate_expiry", "schedule": 60 * 60},
    "notifications-send-digests": {"task": "notifications.send_digests", "schedule": 24 * 60 * 60},
}
