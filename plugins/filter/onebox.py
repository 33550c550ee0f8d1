"""Jinja filters for what onebox's roles read about other inventory hosts (ansible.cfg: filter_plugins).

onebox_private_addresses   names | onebox_private_addresses(hostvars): each inventory host's private
                           address, the one the other hosts reach it on: its inventory's
                           onebox_private_address, else the IPv4 address its facts report (another
                           host's role defaults are not in hostvars), else '' (the roles' checks stop
                           on it, naming the host). Names that are not inventory hosts are left out.
"""


def onebox_private_addresses(names, hostvars) -> list[str]:
    addresses = []
    for name in names:
        if name not in hostvars:
            continue
        host = hostvars[name]
        facts = host.get("ansible_facts") or {}
        address = host.get("onebox_private_address") or (facts.get("default_ipv4") or {}).get("address") or ""
        addresses.append(str(address))
    return addresses


class FilterModule:
    def filters(self):
        return {"onebox_private_addresses": onebox_private_addresses}
