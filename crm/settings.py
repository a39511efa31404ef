"""Tekil settings: one module, configured from the environment.

With no environment at all the app runs embedded (SQLite, a file-system Celery
broker, mail to the console). Production and CI set DATABASE_URL and REDIS_URL.
Every variable is read through django-environ so that a malformed value fails at
start-up instead of half-working.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

# Lets forms.ModelForm[Model] and friends be subscripted at run time, as mypy wants.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("TEKIL_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# Plain-HTTP only for `make run` on localhost; everything secure-by-default otherwise.
HTTPS = env.bool("TEKIL_HTTPS", default=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment; an embedded install keeps a random one on disk."""
    configured = env.str("SECRET_KEY", default="")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "crispy_forms",
    "crispy_bootstrap5",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "crm",
    "customers",
    "consent",
    "segmentation",
    "campaigns",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "crm.middleware.TurkishFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "crm.middleware.TenantMiddleware",
    "crm.middleware.RequireTwoFactorMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

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
                "crm.context_processors.tenancy",
            ],
        },
    },
]

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tekil.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
USES_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded worker and web server share the file: wait on locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif USES_POSTGRES and env.bool("DB_PREPARED_STATEMENTS", default=True):
    # Parameters travel apart from the statement (server-side binding), so psycopg
    # prepares a statement once its connection has run it five times and PostgreSQL
    # stops planning it again: the customer page's five queries took 3.7 ms to plan
    # and 1.2 ms to run at a million customers. Django leaves preparing off for
    # poolers in transaction mode (PgBouncer); set DB_PREPARED_STATEMENTS=0 behind one.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tekil",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    # A real broker without a server: messages are files that the worker picks up.
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # The file-system transport has no fanout exchange for remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="tekil")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Europe/Istanbul"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Periodic jobs: each entry fans out to one task per tenant (see crm.tasks).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "mark-stale-jobs": {"task": "crm.tasks.jobs_mark_stale", "schedule": 15 * 60},
    "dedup-nightly": {
        "task": "customers.tasks.dedup_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    # After the duplicate search, so merged customers are scored once.
    "segmentation-nightly": {
        "task": "segmentation.tasks.segmentation_nightly",
        "schedule": crontab(hour=3, minute=30),
    },
    # Saved segments on a daily/weekly schedule (the run materialises all of them too).
    "segments-materialise": {
        "task": "segmentation.segment_tasks.segments_materialise_due_all",
        "schedule": crontab(hour=5, minute=0),
    },
    # İYS: push what is pending often (new consents are due within 3 business days,
    # RETs are honoured at once anyway), pull citizens' changes at least hourly,
    # reconcile with yesterday's change file every night.
    "iys-push": {"task": "consent.iys.tasks.iys_push_all", "schedule": 5 * 60},
    "iys-pull": {"task": "consent.iys.tasks.iys_pull_all", "schedule": 30 * 60},
    "iys-reconcile": {
        "task": "consent.iys.tasks.iys_reconcile_all",
        "schedule": crontab(hour=4, minute=15),
    },
    # KVKK: remind of request deadlines every morning; destroy what outlived its
    # retention period monthly (the regulation allows at most six months).
    # Consent reach: the triggers keep it exact; rebuilt nightly as a safety net, after
    # the İYS reconciliation and before saved segments are materialised.
    "consent-reach-rebuild": {
        "task": "consent.tasks.reach_rebuild_all",
        "schedule": crontab(hour=4, minute=40),
    },
    "kvkk-request-reminders": {
        "task": "consent.kvkk.tasks.dsr_reminders_all",
        "schedule": crontab(hour=8, minute=0),
    },
    "kvkk-periodic-destruction": {
        "task": "consent.kvkk.tasks.retention_destroy_all",
        "schedule": crontab(hour=1, minute=30, day_of_month=1),
    },
}

# --- İYS (İleti Yönetim Sistemi) --------------------------------------------------
IYS_BASE_URL = env.str("IYS_BASE_URL", default="https://api.iys.org.tr")
# A Fernet key for the tenants' İYS passwords; empty: derived from SECRET_KEY.
IYS_CREDENTIALS_KEY = env.str("IYS_CREDENTIALS_KEY", default="")
IYS_TIMEOUT = env.float("IYS_TIMEOUT", default=15.0)
IYS_RETRY_ATTEMPTS = env.int("IYS_RETRY_ATTEMPTS", default=4)
IYS_BACKOFF_BASE = env.float("IYS_BACKOFF_BASE", default=1.0)
IYS_BATCH_SIZE = env.int("IYS_BATCH_SIZE", default=1000)
IYS_RESULT_WAIT = env.float("IYS_RESULT_WAIT", default=60.0)
IYS_RESULT_POLL_INTERVAL = env.float("IYS_RESULT_POLL_INTERVAL", default=3.0)
# One run per tenant at a time; a lock older than this is considered dead.
IYS_RUN_LOCK_SECONDS = env.int("IYS_RUN_LOCK_SECONDS", default=45 * 60)
# Calls per window (seconds) per İYS account; from public clients' comments: uncertain.
IYS_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "token": (10, 3600.0),
    "add": (50, 60.0),
    "add_async": (2, 60.0),
    "status": (100, 60.0),
    "request_status": (60, 60.0),
    "changes": (60, 60.0),
}
# İYS error codes meaning "this exact state is already recorded": after an
# interrupted send, such a rejection is checked against İYS's state and counted
# as accepted. The fake İYS's names; the real codes are uncertain.
IYS_ALREADY_RECORDED_CODES = frozenset(
    env.list("IYS_ALREADY_RECORDED_CODES", default=["SAME_STATUS", "DATE_NOT_LATER"])
)

# --- Auth and accounts ----------------------------------------------------------
AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "crm.accounts.AccountAdapter"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PRESERVE_USERNAME_CASING = False
# Brute force: allauth counts failed logins per IP and per account (Redis or file cache).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "signup": "20/m/ip",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Tekil CRM"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = HTTPS and env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- E-mail ---------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tekil CRM <no-reply@tekil.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where people reach the app: links in e-mails sent by background jobs.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "tr"
LANGUAGES = [("tr", _("Turkish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Istanbul"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
NODE_MODULES = BASE_DIR / "node_modules"
# Browser assets come from npm (package.json); the app serves them, never a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or not env.bool("STATIC_MANIFEST", default=not DEBUG)
MEDIA_ROOT = VAR_DIR / "media"

# --- API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.drf.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.drf.TenantRolePermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "crm.drf.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tekil CRM API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TouchpointEnum": "customers.models.Touchpoint",
        "ConsentStatusEnum": "consent.models.ConsentStatus",
        "ConsentSyncStatusEnum": "consent.models.SyncStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# The PostgreSQL role the app connects as must not bypass row-level security; CI
# and docker-compose create it. A superuser silently defeats RLS, so refuse it.
TEKIL_ALLOW_SUPERUSER_DB = env.bool("TEKIL_ALLOW_SUPERUSER_DB", default=False)
