"""Settings shared by every environment.

Every value a user may change is read from the environment here (django-environ) and listed in
`.env.example` and the README. Embedded defaults need no server: SQLite and a file-system Celery broker,
both under ``DATA_DIR``. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

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
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.LoginRequiredMiddleware",
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
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
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
# Hosts that may be reached over plain http (feeds and targets). Empty by default.
PLAIN_HTTP_HOSTS: list[str] = [h.strip().lower() for h in env.list("PLAIN_HTTP_HOSTS", default=[]) if h.strip()]
# Expiry thresholds (days before a token or credential expires); within the largest it is "expiring".
EXPIRY_THRESHOLDS_DAYS: list[int] = sorted(
    {int(d) for d in env.list("EXPIRY_THRESHOLDS_DAYS", default=["30", "14", "7", "1"])}, reverse=True
)
EXPIRY_WARNING_DAYS = env.int("EXPIRY_WARNING_DAYS", default=EXPIRY_THRESHOLDS_DAYS[0])
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

# --- Celery ------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    # A file-system broker needs no server. Producers and consumers share one folder.
    CELERY_BROKER_URL = "filesystem://"
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
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Feedkeeper API",
    "DESCRIPTION": "Private package feeds, their tokens, and where they are delivered.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Feed and target checks share their kinds; one name for that enum wherever it appears.
    "ENUM_NAME_OVERRIDES": {"CheckKindEnum": "core.models.CheckRun.Kind"},
}

# --- Logging -----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.redaction.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
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
    "rotations-tick": {"task": "rotations.tick", "schedule": 60},
}
