"""A real browser on the real site: headless Chromium over HTTPS, trusting Pebble's root."""

import os
import subprocess
import uuid
from decimal import Decimal

import pytest
from conftest import APP, DOMAIN, psql
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

URL = f"https://{DOMAIN}/"


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    # Chromium trusts what the NSS database in $HOME trusts: put Pebble's root there, and only there.
    home = tmp_path_factory.mktemp("home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-d", f"sql:{nssdb}", "-A", "-n", "pebble-root", "-t", "C,,", "-i", str(site.cafile)],
        check=True,
    )
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
        f"--user-data-dir={home / 'profile'}",
        # The site's name leads to the test host, as DNS would lead to a VPS.
        f"--host-resolver-rules=MAP {DOMAIN} {site.address}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = {**os.environ, "HOME": str(home), "SE_AVOID_STATS": "true"}
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver", env=env))
    yield driver
    driver.quit()


def wait_for_text(browser, text, timeout=30):
    WebDriverWait(browser, timeout).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), text)
    )


def field(browser, label):
    """The input a <label> names, as a user (or a screen reader) finds it."""
    for_id = browser.find_element(By.XPATH, f"//label[normalize-space()='{label}']").get_attribute("for")
    return browser.find_element(By.ID, for_id)


def test_the_page_loads_over_https_and_shows_the_seeded_portfolio(browser):
    browser.get(URL)
    wait_for_text(browser, "Demo portfolio")
    # The seeded holdings came from the API.
    wait_for_text(browser, "AAPL")
    assert browser.current_url == URL


def test_a_holding_created_in_the_page_is_stored_in_postgresql(browser, host):
    symbol = "B" + uuid.uuid4().hex[:5].upper()
    browser.get(URL)
    wait_for_text(browser, "AAPL")
    field(browser, "Symbol").send_keys(symbol)
    field(browser, "Quantity").send_keys("7")
    field(browser, "Cost basis").send_keys("70.50")
    browser.find_element(By.XPATH, "//button[normalize-space()='Add holding']").click()
    wait_for_text(browser, f"Added {symbol}.")
    row = psql(host, f"SELECT quantity, cost_basis FROM portfolios_holding WHERE symbol = '{symbol}'")
    quantity, cost_basis = row.split("|")
    assert (Decimal(quantity), Decimal(cost_basis)) == (Decimal(7), Decimal("70.50")), row


def test_a_csv_import_is_queued_then_done_by_the_worker(browser, host, site, tmp_path):
    """The upload only queues the import: with the worker stopped the page says so, and the
    holdings appear once the worker is back and has done it."""
    symbols = ["C" + uuid.uuid4().hex[:5].upper() for _ in range(3)]
    csv = tmp_path / "holdings.csv"
    csv.write_text(
        "symbol,quantity,cost_basis\n" + "".join(f"{s},{n},{n}00.00\n" for n, s in enumerate(symbols, 1))
    )
    worker = f"{APP}-worker.service"
    before = {record["id"] for record in site.get("/api/imports/").json()}
    browser.get(URL)
    wait_for_text(browser, "AAPL")
    with host.sudo():
        assert host.run("systemctl stop %s", worker).rc == 0
    try:
        field(browser, "CSV file").send_keys(str(csv))
        browser.find_element(By.XPATH, "//button[normalize-space()='Upload']").click()
        wait_for_text(browser, "Import queued…")
        (record,) = [r for r in site.get("/api/imports/").json() if r["id"] not in before]
        assert (record["status"], record["rows"]) == ("queued", 0), record
    finally:
        with host.sudo():
            assert host.run("systemctl start %s", worker).rc == 0
    wait_for_text(browser, "Imported 3 holdings.", timeout=60)
    for symbol in symbols:
        wait_for_text(browser, symbol)
    record = site.get(f"/api/imports/{record['id']}/").json()
    done = {key: record[key] for key in ("status", "rows", "attempts", "error")}
    assert done == {"status": "done", "rows": 3, "attempts": 1, "error": ""}, record


def test_the_content_security_policy_blocked_nothing(browser):
    """The CSP nginx sends is strict; the built React app must not need anything it forbids."""
    browser.get(URL)
    wait_for_text(browser, "AAPL")
    browser.get(f"https://{DOMAIN}/admin/login/")
    wait_for_text(browser, "Django administration")
    problems = [
        entry
        for entry in browser.get_log("browser")
        if entry.get("source") == "security" or "Content Security Policy" in entry.get("message", "")
    ]
    assert not problems, problems
