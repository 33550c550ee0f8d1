"""Settings, all from the environment; every variable is documented in .env.example.

DJANGO_ENV=production (the default, so a forgotten variable fails safe) refuses to start without
what a deployment needs. DJANGO_ENV=development falls back to SQLite and a throwaway secret key.
"""

from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config import environment as env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env.load_env_file(BASE_DIR / ".env")

ENVIRONMENT = env.choice("DJANGO_ENV", ("production", "development"), default="production")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env.boolean("DJANGO_DEBUG", default=False)
SECRET_KEY = env.string("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.comma_list("DJANGO_ALLOWED_HOSTS")
DB_NAME = env.string("DB_NAME")

if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG must be false when DJANGO_ENV is production: the debug pages show "
            "settings and source code to anyone."
        )
    missing = [
        name
        for name, value in (
            ("DJANGO_SECRET_KEY", SECRET_KEY),
            ("DJANGO_ALLOWED_HOSTS", ALLOWED_HOSTS),
            ("DB_NAME", DB_NAME),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"{', '.join(missing)} must be set when DJANGO_ENV is production (the default)."
        )
    # The same rule as Django's security.W009, so a key accepted here passes `check --deploy`.
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be at least 50 random characters (not django-insecure-...); "
            "make one with: python -c 'from django.core.management.utils import "
            "get_random_secret_key as k; print(k())'"
        )
else:
    SECRET_KEY = SECRET_KEY or "django-insecure-development-only-never-deploy-this-key"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]"]

CSRF_TRUSTED_ORIGINS = env.comma_list("DJANGO_CSRF_TRUSTED_ORIGINS")
for origin in CSRF_TRUSTED_ORIGINS:
    if not origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"DJANGO_CSRF_TRUSTED_ORIGINS entries need a scheme (https://{origin}), not {origin!r}."
        )

# nginx sets X-Forwarded-Proto on every request it proxies; nothing else reaches gunicorn.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
HTTPS = env.boolean("DJANGO_HTTPS", default=PRODUCTION)
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.integer("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

if DB_NAME:
    sslmode = env.string("DB_SSLMODE")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DB_NAME,
            # Empty user and password with a socket directory as host: peer authentication as
            # the OS user, the single-host default.
            "USER": env.string("DB_USER"),
            "PASSWORD": env.string("DB_PASSWORD"),
            "HOST": env.string("DB_HOST", "/var/run/postgresql"),
            "PORT": env.string("DB_PORT"),
            "CONN_MAX_AGE": env.integer("DB_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # libpq waits forever by default; a health probe must answer.
                "connect_timeout": 5,
                **({"sslmode": sslmode} if sslmode else {}),
            },
        }
    }
else:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "portfolios",
]

MIDDLEWARE = [
    # First, so that probes by IP over plain HTTP never meet ALLOWED_HOSTS or the HTTPS redirect.
    "health.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", VAR_DIR / "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}

LOG_LEVEL = env.choice(
    "DJANGO_LOG_LEVEL", ("debug", "info", "warning", "error", "critical"), default="info"
).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # journald timestamps each line and records the unit.
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Replaces Django's own console handler (DEBUG only) and mail_admins; runserver's
    # django.server logger keeps its handler.
    "loggers": {"django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}},
}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Session authentication keeps CSRF enforced for logged-in users (the frontend sends
    # X-CSRFToken); the demo data is open to anyone.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    # Plain JSON lists, no pagination: a portfolio holds tens of holdings.
    "DEFAULT_PAGINATION_CLASS": None,
}

PORTFOLIO_IMPORT_MAX_BYTES = env.integer("PORTFOLIO_IMPORT_MAX_BYTES", 1024 * 1024, minimum=1)
PORTFOLIO_IMPORT_MAX_ROWS = 1000
# Seconds to wait after each imported row: spreads a big import's load on the database (the
# deployment tests use it to keep an import in flight). 0, the default, imports at full speed.
PORTFOLIO_IMPORT_PACE = env.number("PORTFOLIO_IMPORT_PACE", 0)
# Seconds between two portfolio summaries; 0 or empty: nightly at 02:00 UTC.
PORTFOLIO_SUMMARY_EVERY = env.integer("PORTFOLIO_SUMMARY_EVERY", 0)

# Celery (config/celery.py reads every CELERY_* setting). Without a broker (development, the
# SQLite test run) tasks run inline in the process that queues them, so nothing else is needed.
CELERY_BROKER_URL = env.string("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Inline, a task's unexpected error reaches the caller instead of vanishing.
CELERY_TASK_EAGER_PROPAGATES = True
# A task's message is acknowledged after it ran, so a worker killed mid-task (even by SIGKILL)
# leaves it to be delivered again; the tasks are written to be run twice safely.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
# No result backend: a task records its outcome in the database (HoldingImport.status).
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# An unacknowledged message goes back to the queue after this many seconds: longer than the
# longest task, or a slow task would also run a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.integer("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1)
}
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULE = {
    "portfolio-summary": {
        "task": "portfolios.tasks.summarize",
        "schedule": float(PORTFOLIO_SUMMARY_EVERY) if PORTFOLIO_SUMMARY_EVERY else crontab(minute=0, hour=2),
    },
}

# A Redis cache shared by every process when set (e.g. unix://user:password@/run/redis/redis.sock?db=1);
# otherwise Django's default, a per-process memory cache.
CACHE_URL = env.string("DJANGO_CACHE_URL")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
