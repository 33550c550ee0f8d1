import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

from tests.production_env import APP_DIR, PRODUCTION_ENV, environment


@pytest.fixture
def database_unreachable(tmp_path):
    """Point the default connection at a database that is not there (no mock: a real connect)."""
    original = connections[DEFAULT_DB_ALIAS]
    settings_dict = {**original.settings_dict}
    if original.vendor == "sqlite":
        settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    else:
        settings_dict["HOST"] = str(tmp_path)  # a socket directory with no server in it
    unreachable = original.__class__(settings_dict, alias=DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = unreachable
    yield
    unreachable.close()
    connections[DEFAULT_DB_ALIAS] = original


@pytest.fixture
def production_like(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["app.example.com"]
    settings.SECURE_SSL_REDIRECT = True


@pytest.mark.django_db
def test_health_is_ok_when_the_database_answers(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies


@pytest.mark.django_db
def test_health_is_503_when_the_database_does_not_answer(client, database_unreachable):
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["10.1.2.3", "10.1.2.3:8000", "[fd00::1]:80", "not a host!", "x"])
def test_health_answers_any_host_over_plain_http(client, production_like, host):
    response = client.get("/health/", headers={"host": host})

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_other_paths_do_check_host_and_scheme(client, production_like):
    """The control for the test above: the same settings do reject and redirect elsewhere."""
    assert client.get("/api/portfolios/", headers={"host": "10.1.2.3"}).status_code == 400
    redirect = client.get("/api/portfolios/", headers={"host": "app.example.com"})
    assert (redirect.status_code, redirect["Location"]) == (
        301,
        "https://app.example.com/api/portfolios/",
    )
    proxied = client.get(
        "/api/portfolios/", headers={"host": "app.example.com", "x-forwarded-proto": "https"}
    )
    assert proxied.status_code == 200


@pytest.mark.django_db
def test_health_takes_only_get_and_head(client):
    assert client.head("/health/").status_code == 200
    assert client.post("/health/").status_code == 405


def test_gunicorn_answers_health_by_ip_on_its_unix_socket_in_production(tmp_path):
    """The deployed shape: production settings, gunicorn on a unix socket, a probe by IP.

    The database is deliberately absent, so the answer is the health check's 503, not the
    400 (unknown host) or 301 (plain HTTP) that any other path gets.
    """
    sock = tmp_path / "gunicorn.sock"
    env = environment(PRODUCTION_ENV | {"DB_HOST": str(tmp_path / "no-postgres-here")})
    gunicorn = [Path(sys.executable).with_name("gunicorn"), "--bind", f"unix:{sock}"]
    log = tmp_path / "gunicorn.log"
    with (
        log.open("wb") as output,
        subprocess.Popen(
            [*gunicorn, "config.wsgi:application"], cwd=APP_DIR, env=env, stderr=output
        ) as server,
    ):
        try:
            deadline = time.monotonic() + 30
            while not sock.exists():
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "gunicorn did not create its socket"
                time.sleep(0.05)
            health = http_over_unix_socket(sock, "/health/", host="192.0.2.10")
            api = http_over_unix_socket(sock, "/api/portfolios/", host="192.0.2.10")
        finally:
            server.terminate()

    body = b'{"status": "error", "database": "unavailable"}'
    assert health.startswith(b"HTTP/1.1 503 ")
    assert f"Content-Length: {len(body)}\r\n".encode() in health
    assert health.endswith(b"\r\n\r\n" + body)
    assert api.startswith(b"HTTP/1.1 400 ")


def http_over_unix_socket(path: Path, target: str, host: str) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        conn.connect(os.fspath(path))
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
