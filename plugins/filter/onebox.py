"""Jinja filters for what onebox's roles read about other inventory hosts (ansible.cfg: filter_plugins).

onebox_private_addresses   names | onebox_private_addresses(hostvars): each inventory host's private
                           address, the one the other hosts reach it on: its inventory's
                           onebox_private_address, else the IPv4 address its facts report (another
                           host's role defaults are not in hostvars), else '' (the roles' checks stop
                           on it, naming the host). Names that are not inventory hosts are left out.
onebox_hosts               groups | onebox_hosts(part): the hosts that run one part of onebox, from the
                           inventory's groups (inventory/README.md, "More than one host"):
                             site     every host of group onebox (of the inventory, without one) but the
                                      database replicas (the deploy lock, the base);
                             app      gunicorn, the workers, the frontend, nginx and certbot: group app's
                                      hosts, or without a group app every site host (the whole stack);
                             db       the PostgreSQL primary with the backups: group db's hosts when a
                                      group app exists, else every site host (each its own database);
                             replica  group db_replica's hosts.
                           The plays' hosts and the roles' "does this host run it" read this one rule.
onebox_parts               groups | onebox_parts(host): the parts above that host runs.
onebox_remote_app_hosts    groups | onebox_remote_app_hosts: the app's hosts that run no database of
                           their own, which reach the primary over the network (and are pointed at a
                           promoted replica).
onebox_db_host             groups | onebox_db_host(host): the host of that host's app's database: itself
                           where it runs the primary (one host alone, or each site host without a group
                           app), else group db's first host.
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


PARTS = ("site", "app", "db", "replica")


def onebox_hosts(groups, part) -> list[str]:
    if part not in PARTS:
        raise ValueError(f"onebox_hosts: no part {part!r}; the parts are {', '.join(PARTS)}")
    replicas = list(groups.get("db_replica") or [])
    if part == "replica":
        return replicas
    # An inventory without the group onebox (a role applied on its own): every host of it.
    members = groups["onebox"] if "onebox" in groups else groups.get("all") or []
    site = [name for name in members if name not in replicas]
    if part == "site" or "app" not in groups:
        return site
    return [name for name in groups.get(part) or [] if name in site]


def onebox_parts(groups, host) -> list[str]:
    return [part for part in PARTS if host in onebox_hosts(groups, part)]


def onebox_remote_app_hosts(groups) -> list[str]:
    databases = onebox_hosts(groups, "db")
    return [name for name in onebox_hosts(groups, "app") if name not in databases]


def onebox_db_host(groups, host) -> str:
    if "db" in onebox_parts(groups, host):
        return host
    return next(iter(onebox_hosts(groups, "db")), host)


class FilterModule:
    def filters(self):
        return {
            "onebox_private_addresses": onebox_private_addresses,
            "onebox_hosts": onebox_hosts,
            "onebox_parts": onebox_parts,
            "onebox_db_host": onebox_db_host,
            "onebox_remote_app_hosts": onebox_remote_app_hosts,
        }
