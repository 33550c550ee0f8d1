"""Jinja tests for the names onebox checks, each rule written once (ansible.cfg: test_plugins).

onebox_app_name          1-31 lower case letters, digits, '-' or '_', starting with a letter: it
                         names a system user, a database role, /srv/<name> and systemd units
onebox_dns_name          a DNS name an ACME CA issues for: letter-digit-hyphen labels of at
                         most 63 characters, not starting or ending with '-', at least two
                         labels, at most 253 characters, no wildcard, no trailing dot
onebox_email             an address with one '@' and a DNS name after it
onebox_ip_network        an IPv4 or IPv6 address or network (203.0.113.7, 10.0.0.0/8, 2001:db8::/32),
                         host bits clear
onebox_open_address      a pg_hba.conf address that lets everyone in, or a large part of every address:
                         all, the unspecified address, or a network wider than an IPv4 /8 or an IPv6
                         /16 (0.0.0.0/0, ::/0, 64.0.0.0/2); 10.0.0.0/8 is not
"""

import ipaddress
import re

APP_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")
LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def onebox_app_name(value) -> bool:
    return isinstance(value, str) and APP_NAME.fullmatch(value) is not None


def onebox_dns_name(value) -> bool:
    if not isinstance(value, str) or not 1 <= len(value) <= 253:
        return False
    labels = value.split(".")
    # The last label (the top-level domain) is never all digits: that would be an IP address.
    return len(labels) >= 2 and all(LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def onebox_email(value) -> bool:
    if not isinstance(value, str) or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    return bool(local) and not re.search(r"\s", local) and onebox_dns_name(domain)


def onebox_ip_network(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_network(value)
    except ValueError:
        return False
    return True


def onebox_open_address(value) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip().lower()
    if text == "all":
        return True
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    widest = 8 if network.version == 4 else 16
    return network.prefixlen < widest or network.network_address.is_unspecified


class TestModule:
    def tests(self):
        return {
            "onebox_app_name": onebox_app_name,
            "onebox_dns_name": onebox_dns_name,
            "onebox_email": onebox_email,
            "onebox_ip_network": onebox_ip_network,
            "onebox_open_address": onebox_open_address,
        }
