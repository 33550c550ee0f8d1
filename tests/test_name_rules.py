"""plugins/test/onebox.py: the one rule for app names, DNS names, email addresses and IP networks."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("onebox_tests", ROOT / "plugins" / "test" / "onebox.py")
rules = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rules)


@pytest.mark.parametrize("name", ["portfolio", "a", "shop-2", "my_app", "a" * 31])
def test_good_app_names(name):
    assert rules.onebox_app_name(name)


@pytest.mark.parametrize("name", ["", "Portfolio", "2shop", "port/folio", "a" * 32, "-x", None, 5])
def test_bad_app_names(name):
    assert not rules.onebox_app_name(name)


@pytest.mark.parametrize(
    "name", ["onebox.test", "shop.example.org", "xn--bcher-kva.example", "a-b.c-d.example", "x" * 63 + ".org"]
)
def test_good_dns_names(name):
    assert rules.onebox_dns_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "bad_domain!",
        "localhost",
        "*.example.org",
        "-shop.example.org",
        "shop-.example.org",
        "shop..example.org",
        "shop.example.org.",
        "10.0.0.1",
        "x" * 64 + ".org",
        ("a" * 60 + ".") * 5 + "org",
        "shop example.org",
        "",
        None,
    ],
)
def test_bad_dns_names(name):
    assert not rules.onebox_dns_name(name)


@pytest.mark.parametrize("address", ["admin@onebox.test", "ops+alerts@shop.example.org"])
def test_good_emails(address):
    assert rules.onebox_email(address)


BAD_EMAILS = ["not-an-email", "a@b", "@example.org", "a b@example.org", "a@@example.org"]


@pytest.mark.parametrize("address", BAD_EMAILS)
def test_bad_emails(address):
    assert not rules.onebox_email(address)


@pytest.mark.parametrize("network", ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32", "::1", "0.0.0.0/0"])
def test_good_ip_networks(network):
    assert rules.onebox_ip_network(network)


@pytest.mark.parametrize("network", ["10.0.0.1/8", "10.0.0.0/33", "example.org", "10.0.0", "", None, 10])
def test_bad_ip_networks(network):
    assert not rules.onebox_ip_network(network)


OPEN = [
    "all",
    "ALL",
    "0.0.0.0/0",
    "::/0",
    "::0/0",
    "0.0.0.0",
    "::",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "64.0.0.0/2",
    "2000::/3",
]
NOT_OPEN = ["10.0.0.5/32", "10.0.0.0/8", "2001:db8::/32", "fd00::/16", "samenet", "db.example.org", "", None]


@pytest.mark.parametrize("address", OPEN)
def test_addresses_that_let_everyone_in(address):
    assert rules.onebox_open_address(address)


@pytest.mark.parametrize("address", NOT_OPEN)
def test_addresses_that_do_not(address):
    assert not rules.onebox_open_address(address)
