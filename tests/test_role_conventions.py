"""Every role keeps its declared inputs, its defaults and its handlers honest."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").exists())


def load(path: Path):
    with path.open() as f:
        return yaml.safe_load(f) or {}


def role_ids():
    return [r.name for r in ROLES]


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_role_has_the_standard_parts(role):
    for part in ("defaults/main.yml", "meta/argument_specs.yml", "meta/main.yml", "README.md"):
        assert (role / part).exists(), f"{role.name} lacks {part}"


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_each_default_is_written_once(role):
    """dev-sec's specs drifted from its defaults. Here a default lives only in defaults/main.yml; the
    spec declares every variable (type, description) and no default to keep in step."""
    defaults = load(role / "defaults" / "main.yml")
    options = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]

    undeclared = sorted(set(defaults) - set(options))
    assert not undeclared, f"{role.name}: defaults not declared in argument_specs: {undeclared}"
    doubled = sorted(name for name, spec in options.items() if "default" in spec)
    assert not doubled, f"{role.name}: defaults in the spec too (keep them in defaults/main.yml): {doubled}"
    for name, spec in options.items():
        assert spec.get("description"), f"{role.name}: {name} has no description"


def test_the_readmes_input_tables_are_current():
    """Each role README's table of inputs is generated from the spec and the defaults."""
    command = [sys.executable, str(ROOT / "scripts" / "role_docs.py"), "--check"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("role", ROLES, ids=role_ids())
def test_role_variables_carry_the_role_prefix(role):
    defaults = load(role / "defaults" / "main.yml")
    prefix = role.name + "_"
    stray = [k for k in defaults if not k.startswith(prefix)]
    assert not stray, f"{role.name}: defaults without the {prefix} prefix: {stray}"


def notified_names(role: Path) -> set[str]:
    names: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key in ("notify", "listen"):
                value = node.get(key)
                if isinstance(value, str):
                    names.add(value)
                elif isinstance(value, list):
                    names.update(value)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in list(role.glob("tasks/*.yml")) + list(role.glob("handlers/*.yml")):
        walk(load(path))
    return names


ROLES_WITH_HANDLERS = [r for r in ROLES if (r / "handlers" / "main.yml").exists()]


@pytest.mark.parametrize("role", ROLES_WITH_HANDLERS, ids=[r.name for r in ROLES_WITH_HANDLERS])
def test_no_dead_handlers(role):
    """Geerling's nginx role ships a validate handler nothing notifies; every handler here is used."""
    handlers = load(role / "handlers" / "main.yml") or []
    # Handlers may be notified from other roles' tasks and from playbooks too.
    used: set[str] = set()
    for other in ROLES:
        used |= notified_names(other)
    playbooks = " ".join(p.read_text() for p in (ROOT / "playbooks").glob("*.yml"))
    dead = []
    for handler in handlers:
        listen = handler.get("listen", [])
        topics = {handler["name"], *([listen] if isinstance(listen, str) else listen)}
        if not topics & used and not any(t in playbooks for t in topics):
            dead.append(handler["name"])
    assert not dead, f"{role.name}: handlers nothing notifies: {dead}"


def test_the_readme_lists_every_tag_the_playbooks_and_roles_use():
    """The README's tag table (which the stack scenario runs tag by tag) and the tags in the roles'
    tasks/main.yml and site.yml are the same set; each phase tag is <role>-<phase>."""
    sys.path.insert(0, str(ROOT / "molecule" / "shared"))
    from scenario import documented_tags

    used = set()
    for main in [*(ROOT / "roles").glob("*/tasks/main.yml"), ROOT / "playbooks" / "site.yml"]:
        for found in re.findall(r"tags: \[([^\]]*)\]", main.read_text()):
            used.update(tag.strip() for tag in found.split(","))
    used.discard("always")
    documented = documented_tags()
    assert len(documented) == len(set(documented))
    assert used == set(documented)
    roles = {role.name for role in ROLES}
    for tag in used - roles - {"validate"}:
        assert tag.split("-")[0] in roles, f"tag {tag} is not <role>-<phase>"


def test_a_role_tag_is_the_union_of_its_phase_tags():
    """Every task file a role's tasks/main.yml brings in under the role's tag also carries one of its
    <role>-<phase> tags (or always): `--tags <role>` then runs exactly its phases, each of which the
    stack scenario runs alone."""
    for main in (ROOT / "roles").glob("*/tasks/main.yml"):
        role = main.parent.parent.name
        for found in re.findall(r"tags: \[([^\]]*)\]", main.read_text()):
            tags = {tag.strip() for tag in found.split(",")}
            if role in tags and "always" not in tags:
                assert any(tag.startswith(f"{role}-") for tag in tags), f"{main}: tags [{found}]"
