"""`make dev` serves the React page from Vite with data from Django, checked in headless Chromium."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make dev exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    django_port, vite_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("dev") / "dev.log"
    env = {**os.environ, "DEV_DJANGO_PORT": str(django_port), "DEV_VITE_PORT": str(vite_port)}
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "dev"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # As from a terminal's shell: SIGINT at its default, even when this run inherited it
            # ignored (a background job of a non-interactive shell, as some CI runners start us).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        wait_for(f"http://127.0.0.1:{django_port}/health/", proc)
        wait_for(f"http://127.0.0.1:{vite_port}/", proc)
        yield {"vite": vite_port, "django": django_port, "proc": proc, "log": log}
    finally:
        if proc.poll() is None:
            # What Ctrl-C does: SIGINT to the whole foreground process group.
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    yield driver
    driver.quit()


def test_vite_proxies_django_health(dev_server):
    with urllib.request.urlopen(f"http://127.0.0.1:{dev_server['vite']}/health/", timeout=5) as r:
        assert r.status == 200
        assert b'"database"' in r.read()


def test_react_page_shows_the_seeded_portfolio_from_django(dev_server, browser):
    browser.get(f"http://127.0.0.1:{dev_server['vite']}/")
    wait = WebDriverWait(browser, 30)
    wait.until(expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), "Demo portfolio"))
    # The holdings come from Django's API through Vite's proxy: a symbol the seed created is on the page.
    wait.until(expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), "AAPL"))


def test_ctrl_c_stops_both_servers(dev_server):
    proc = dev_server["proc"]
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=20)
    for port in (dev_server["vite"], dev_server["django"]):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
