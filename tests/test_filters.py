"""plugins/filter/onebox.py: another inventory host's private address, one rule for every role."""

import importlib.util
from pathlib import Path

import pytest
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


# One host alone, in no group: it is the whole stack and its own database.
ALONE = {"all": ["vps"], "ungrouped": [], "onebox": ["vps"]}
# The database tier on hosts of its own, no group app: the primary still runs the site (today's
# layout for a replica), the replica only its database.
REPLICATED = {"onebox": ["db1", "db2"], "db": ["db1"], "db_replica": ["db2"]}
# The app on hosts of its own: two app hosts, a primary, a replica.
SPLIT = {
    "onebox": ["app1", "app2", "db1", "db2"],
    "app": ["app1", "app2"],
    "db": ["db1"],
    "db_replica": ["db2"],
}


def test_a_host_in_no_group_runs_every_part_but_the_replica():
    assert filters.onebox_parts(ALONE, "vps") == ["site", "app", "db"]
    assert filters.onebox_hosts(ALONE, "replica") == []


def test_without_a_group_app_the_primary_is_still_the_whole_stack():
    assert filters.onebox_parts(REPLICATED, "db1") == ["site", "app", "db"]
    assert filters.onebox_parts(REPLICATED, "db2") == ["replica"]
    assert filters.onebox_hosts(REPLICATED, "app") == ["db1"]


def test_with_a_group_app_each_host_runs_its_groups_parts():
    assert filters.onebox_hosts(SPLIT, "site") == ["app1", "app2", "db1"]
    assert filters.onebox_hosts(SPLIT, "app") == ["app1", "app2"]
    assert filters.onebox_hosts(SPLIT, "db") == ["db1"]
    assert filters.onebox_parts(SPLIT, "app1") == ["site", "app"]
    assert filters.onebox_parts(SPLIT, "db1") == ["site", "db"]
    assert filters.onebox_parts(SPLIT, "db2") == ["replica"]


def test_one_host_in_app_and_db_runs_both():
    groups = {"onebox": ["both", "app2"], "app": ["both", "app2"], "db": ["both"]}
    assert filters.onebox_parts(groups, "both") == ["site", "app", "db"]
    assert filters.onebox_parts(groups, "app2") == ["site", "app"]


def test_a_replica_listed_in_app_or_db_too_stays_a_replica_only():
    groups = dict(SPLIT, app=["app1", "db2"])
    assert filters.onebox_parts(groups, "db2") == ["replica"]


def test_a_role_applied_on_an_inventory_without_the_group_onebox_runs_every_part():
    assert filters.onebox_parts({"all": ["localhost"], "ungrouped": ["localhost"]}, "localhost") == [
        "site",
        "app",
        "db",
    ]


def test_the_apps_database_host_is_its_own_where_it_runs_the_primary_else_group_dbs():
    assert filters.onebox_db_host(ALONE, "vps") == "vps"
    assert filters.onebox_db_host(REPLICATED, "db1") == "db1"
    assert filters.onebox_db_host(SPLIT, "app1") == "db1"
    assert filters.onebox_db_host(SPLIT, "db1") == "db1"
    # A db host outside group onebox is never provisioned: not the app's database host.
    assert filters.onebox_db_host(dict(SPLIT, db=["stray", "db1"]), "app1") == "db1"


def test_the_remote_app_hosts_are_the_app_hosts_that_run_no_database():
    assert filters.onebox_remote_app_hosts(SPLIT) == ["app1", "app2"]
    assert filters.onebox_remote_app_hosts(REPLICATED) == []
    assert filters.onebox_remote_app_hosts(ALONE) == []


def test_an_unknown_part_is_refused_by_name():
    with pytest.raises(ValueError, match="no part 'web'"):
        filters.onebox_hosts(SPLIT, "web")
