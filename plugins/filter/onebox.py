"""Jinja filters for what onebox's roles read about other inventory hosts (ansible.cfg: filter_plugins).

onebox_private_addresses   names | onebox_private_addresses(hostvars): each inventory host's private
                           address, the one the other hosts reach it on: its inventory's
                           onebox_private_address, else the IPv4 address its facts report (another
                           host's role defaults are not in hostvars), else '' (the roles' checks stop
                           on it, naming the host). Names that are not inventory hosts are left out.
"""

from ansible.errors import AnsibleUndefinedVariable
from jinja2 import Undefined


def _read(host, name, default):
    """A host variable, templated; the default when it is unset or its template cannot be resolved
    (a fact of a host left out by --limit)."""
    try:
        value = host.get(name, default)
    except AnsibleUndefinedVariable:
        return default
    return default if isinstance(value, Undefined) else value


def onebox_private_addresses(names, hostvars) -> list[str]:
    addresses = []
    for name in names:
        if name not in hostvars:
            continue
        host = hostvars[name]
        facts = _read(host, "ansible_facts", {}) or {}
        address = (
            _read(host, "onebox_private_address", "")
            or (facts.get("default_ipv4") or {}).get("address")
            or ""
        )
        addresses.append(str(address))
    return addresses


class FilterModule:
    def filters(self):
        return {"onebox_private_addresses": onebox_private_addresses}
