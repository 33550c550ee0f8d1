"""Settings as the deployment sees them: each case starts the app in a fresh process."""

import json

import pytest

from tests.production_env import PRODUCTION_ENV, run

START_APP = ["-c", "import config.wsgi"]  # what gunicorn does first
NO_ISSUES = "System check identified no issues (0 silenced).\n"


def without(*names):
    return {k: v for k, v in PRODUCTION_ENV.items() if k not in names}


def settings_of(variables, *names):
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))"
    )
    result = run(["-c", code], variables | {"DJANGO_SETTINGS_MODULE": "config.settings"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_refused(result, variable):
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert variable in last_line


def test_production_starts_with_the_required_variables():
    result = run(START_APP, PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DB_NAME"])
def test_production_refuses_to_start_without(variable):
    assert_refused(run(START_APP, without(variable)), variable)


@pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DB_NAME"])
def test_empty_counts_as_missing(variable):
    assert_refused(run(START_APP, PRODUCTION_ENV | {variable: ""}), variable)


def test_production_is_the_default_mode():
    assert_refused(run(START_APP, without("DJANGO_ENV", "DJANGO_SECRET_KEY")), "DJANGO_SECRET_KEY")


@pytest.mark.parametrize("key", ["short-key", "a" * 60, "django-insecure-" + "0123456789abcdef" * 4])
def test_production_refuses_a_weak_secret_key(key):
    assert_refused(run(START_APP, PRODUCTION_ENV | {"DJANGO_SECRET_KEY": key}), "DJANGO_SECRET_KEY")


def test_production_refuses_debug():
    assert_refused(run(START_APP, PRODUCTION_ENV | {"DJANGO_DEBUG": "true"}), "DJANGO_DEBUG")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DJANGO_ENV", "staging"),
        ("DJANGO_DEBUG", "maybe"),
        ("DJANGO_HTTPS", "sure"),
        ("DB_CONN_MAX_AGE", "a minute"),
        ("PORTFOLIO_IMPORT_MAX_BYTES", "0"),
        ("DJANGO_LOG_LEVEL", "loud"),
        ("DJANGO_CSRF_TRUSTED_ORIGINS", "app.example.com"),
        ("DJANGO_ENV_FILE", "/nonexistent/env"),
        ("PORTFOLIO_IMPORT_PACE", "-0.5"),
        ("PORTFOLIO_IMPORT_PACE", "slowly"),
        ("PORTFOLIO_IMPORT_PACE", "nan"),
        ("PORTFOLIO_SUMMARY_EVERY", "hourly"),
        ("CELERY_VISIBILITY_TIMEOUT", "0"),
    ],
)
def test_bad_values_are_refused_by_name(variable, value):
    assert_refused(run(START_APP, PRODUCTION_ENV | {variable: value}), variable)


def test_check_deploy_is_clean_in_production():
    result = run(["manage.py", "check", "--deploy"], PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stdout == NO_ISSUES
    assert result.stderr == ""


def test_plain_http_staging_turns_the_https_settings_off():
    result = run(["manage.py", "check", "--deploy"], PRODUCTION_ENV | {"DJANGO_HTTPS": "false"})

    assert "security.W008" in result.stderr  # SECURE_SSL_REDIRECT
    assert "security.W004" in result.stderr  # HSTS


def test_env_file_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text(
        "".join(f"{name}='{value}'\n" for name, value in PRODUCTION_ENV.items())
        + "DJANGO_ALLOWED_HOSTS=from-file.example\nDJANGO_LOG_LEVEL=warning\n"
    )
    variables = {"DJANGO_ENV_FILE": str(env_file), "DJANGO_ALLOWED_HOSTS": "from-env.example"}

    values = settings_of(variables, "ALLOWED_HOSTS", "LOG_LEVEL", "SECRET_KEY")

    assert values == {
        "ALLOWED_HOSTS": ["from-env.example"],
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": PRODUCTION_ENV["DJANGO_SECRET_KEY"],
    }


def test_postgresql_defaults_to_the_local_socket_with_peer_authentication():
    database = settings_of(PRODUCTION_ENV, "DATABASES")["DATABASES"]["default"]

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("onebox", "", "")
    assert (database["HOST"], database["PORT"]) == ("/var/run/postgresql", "")
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (60, True)
    assert "sslmode" not in database["OPTIONS"]


def test_postgresql_on_another_host():
    remote = {
        "DB_HOST": "db.internal",
        "DB_PORT": "5433",
        "DB_USER": "app",
        "DB_PASSWORD": "s3cret$with#odd'chars",
        "DB_SSLMODE": "verify-full",
        "DB_CONN_MAX_AGE": "0",
    }
    database = settings_of(PRODUCTION_ENV | remote, "DATABASES")["DATABASES"]["default"]

    assert (database["HOST"], database["PORT"]) == ("db.internal", "5433")
    assert (database["USER"], database["PASSWORD"]) == ("app", remote["DB_PASSWORD"])
    assert database["OPTIONS"]["sslmode"] == "verify-full"
    assert database["CONN_MAX_AGE"] == 0


def test_development_defaults_to_sqlite_and_no_https():
    values = settings_of(
        {"DJANGO_ENV": "development"}, "DATABASES", "DEBUG", "SECURE_SSL_REDIRECT", "ALLOWED_HOSTS"
    )

    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASES"]["default"]["NAME"].endswith("/app/var/db.sqlite3")
    assert (values["DEBUG"], values["SECURE_SSL_REDIRECT"]) == (False, False)
    assert values["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]


def test_uploads_and_static_files_go_where_the_environment_says(tmp_path):
    variables = PRODUCTION_ENV | {
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "PORTFOLIO_IMPORT_MAX_BYTES": "2048",
    }

    values = settings_of(variables, "STATIC_ROOT", "MEDIA_ROOT", "PORTFOLIO_IMPORT_MAX_BYTES")

    assert values == {
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PORTFOLIO_IMPORT_MAX_BYTES": 2048,
    }


BROKER_URL = "redis+socket://onebox:p%40ss@/run/redis/redis-server.sock?virtual_host=0"


def test_without_a_broker_tasks_run_inline():
    values = settings_of(
        {"DJANGO_ENV": "development"}, "CELERY_TASK_ALWAYS_EAGER", "CACHES", "PORTFOLIO_IMPORT_PACE"
    )

    assert values["CELERY_TASK_ALWAYS_EAGER"] is True
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["PORTFOLIO_IMPORT_PACE"] == 0


def test_broker_cache_and_pace_from_the_environment():
    variables = PRODUCTION_ENV | {
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_VISIBILITY_TIMEOUT": "600",
        "DJANGO_CACHE_URL": "unix://onebox:p%40ss@/run/redis/redis-server.sock?db=1",
        "PORTFOLIO_IMPORT_PACE": "0.5",
    }
    names = (
        "CELERY_BROKER_URL",
        "CELERY_TASK_ALWAYS_EAGER",
        "CELERY_TASK_ACKS_LATE",
        "CELERY_TASK_REJECT_ON_WORKER_LOST",
        "CELERY_WORKER_PREFETCH_MULTIPLIER",
        "CELERY_BROKER_TRANSPORT_OPTIONS",
        "CELERY_TIMEZONE",
        "CACHES",
        "PORTFOLIO_IMPORT_PACE",
    )

    values = settings_of(variables, *names)

    assert values == {
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": False,
        "CELERY_TASK_ACKS_LATE": True,
        "CELERY_TASK_REJECT_ON_WORKER_LOST": True,
        "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {"visibility_timeout": 600},
        "CELERY_TIMEZONE": "UTC",
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": variables["DJANGO_CACHE_URL"],
            }
        },
        "PORTFOLIO_IMPORT_PACE": 0.5,
    }


def beat_entry(variables):
    """The celery app's portfolio-summary entry, as `celery beat` reads it."""
    code = (
        "import json; from celery.schedules import crontab, maybe_schedule; from config import celery_app; "
        "entry = celery_app.conf.beat_schedule['portfolio-summary']; "
        "s = maybe_schedule(entry['schedule']); "
        "print(json.dumps([entry['task'], sorted(s.hour), sorted(s.minute)] if isinstance(s, crontab) "
        "else [entry['task'], s.run_every.total_seconds()]))"
    )
    result = run(["-c", code], variables | {"CELERY_BROKER_URL": BROKER_URL})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_summary_runs_nightly_at_two_utc_by_default():
    assert beat_entry(PRODUCTION_ENV) == ["portfolios.tasks.summarize", [2], [0]]
    assert beat_entry(PRODUCTION_ENV | {"PORTFOLIO_SUMMARY_EVERY": "0"}) == [
        "portfolios.tasks.summarize",
        [2],
        [0],
    ]


def test_summary_every_sets_the_interval():
    assert beat_entry(PRODUCTION_ENV | {"PORTFOLIO_SUMMARY_EVERY": "300"}) == [
        "portfolios.tasks.summarize",
        300.0,
    ]
