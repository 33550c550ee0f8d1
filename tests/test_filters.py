"""plugins/filter/onebox.py: another inventory host's private address, one rule for every role."""

import importlib.util
from pathlib import Path

from jinja2 import Undefined

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("onebox_filters", ROOT / "plugins" / "filter" / "onebox.py")
filters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(filters)

HOSTVARS = {
    "db": {
        "onebox_private_address": "10.0.0.2",
        "ansible_facts": {"default_ipv4": {"address": "172.17.0.2"}},
    },
    "replica": {"ansible_facts": {"default_ipv4": {"address": "172.17.0.3"}}},
    "blank": {"onebox_private_address": "", "ansible_facts": {"default_ipv4": {"address": "172.17.0.4"}}},
    "unknown": {"ansible_facts": {}},
    # An address whose template cannot be resolved (a fact of a host left out by --limit).
    "unresolved": {"onebox_private_address": Undefined(name="x"), "ansible_facts": {}},
    "unreached": {},
}


def test_the_inventory_address_wins_over_the_facts():
    assert filters.onebox_private_addresses(["db"], HOSTVARS) == ["10.0.0.2"]


def test_the_facts_stand_in_when_the_inventory_gives_none():
    assert filters.onebox_private_addresses(["replica", "blank"], HOSTVARS) == ["172.17.0.3", "172.17.0.4"]


def test_an_unknown_address_is_empty_and_a_stranger_is_left_out():
    assert filters.onebox_private_addresses(["unknown", "unreached", "not-in-inventory"], HOSTVARS) == [
        "",
        "",
    ]


def test_an_address_that_cannot_be_resolved_is_unknown_not_an_error():
    assert filters.onebox_private_addresses(["unresolved"], HOSTVARS) == [""]
