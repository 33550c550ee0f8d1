"""ansible-playbook against the scenario's own host, as a user runs a playbook against an inventory:
for tests that change the host on purpose (bad input, a second run, a switch) and read what it did."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def fact_cache() -> Path:
    """Where this test session's playbooks keep the hosts' facts: gathered by the first, read by
    the rest, as the project's ansible.cfg does for a user (molecule's own ansible.cfg keeps none,
    so every run would gather them again, seconds each). Made empty once per session: a cache
    of an earlier session may describe a container since replaced."""
    cache = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "verify-facts"
    if os.environ.get("ONEBOX_VERIFY_FACTS") != str(os.getpid()):
        shutil.rmtree(cache, ignore_errors=True)
        os.environ["ONEBOX_VERIFY_FACTS"] = str(os.getpid())
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def forget_facts():
    """After something that changes a host's facts (a restart may change its address)."""
    shutil.rmtree(fact_cache(), ignore_errors=True)


def command(path, *extra):
    """The argv and environment of a playbook (relative to the project root, or absolute) against
    the scenario's inventory, as a user runs it against theirs."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    argv = ["ansible-playbook", "-i", str(inventory), str(ROOT / path), *extra]
    env = {
        **os.environ,
        "ANSIBLE_GATHERING": "smart",
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(fact_cache()),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "3600",
    }
    return argv, env


def playbook(path, *extra, timeout=900):
    """Run a playbook against the scenario's inventory; its result."""
    argv, env = command(path, *extra)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def background(path, log, *extra):
    """A playbook started beside the test, its output to a file (a pipe could fill and stall it),
    in a session of its own so that it can be killed with everything it started."""
    argv, env = command(path, *extra)
    with Path(log).open("w") as output:
        return subprocess.Popen(
            argv, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def folded(text):
    """Text on one line, every run of whitespace one space: folded messages read as written."""
    return " ".join(text.split())


def words(result):
    """The run's whole output on one line."""
    return folded(result.stdout + result.stderr)


def address(host):
    """The test host's address on Docker's network, as this machine reaches it (read from Docker, not
    from the host: a test's own interfaces, such as outside.py's, may come first in `hostname -I`)."""
    name = host.backend.get_hostname()
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()[0]


TAGS_MARKER = "<!-- tags: the table below is the list the stack scenario runs -->"


def documented_tags():
    """The tags the README's table lists (first column), in its order."""
    text = (ROOT / "README.md").read_text()
    if TAGS_MARKER not in text:
        raise AssertionError("the README's tag table lost its marker")
    tags = []
    for line in text[text.index(TAGS_MARKER) :].splitlines()[1:]:
        if not line.startswith("|"):
            if tags:
                break
            continue
        tags += re.findall(r"`([a-z0-9-]+)`", line.split("|")[1])
    return [tag for tag in tags if tag != "tag"]


def distro_share(items, scenario="stack"):
    """This distro's share of a list of test cases: every n-th of them, for the n distros the matrix
    (molecule/matrix.yml) runs the scenario on, so a list costs one distro's time and every case
    runs on one of them. A run on a distro outside the matrix, or on one alone, gets them all."""
    matrix = yaml.safe_load((ROOT / "molecule" / "matrix.yml").read_text())
    allowed = os.environ.get("MOLECULE_DISTROS", "debian12 debian13").split()
    distros = [d for d in matrix["scenarios"][scenario]["distros"] if d in allowed]
    distro = os.environ.get("MOLECULE_DISTRO", "debian12")
    if distro not in distros:
        return list(items)
    return list(items)[distros.index(distro) :: len(distros)]


def wait_until(what, check, timeout=90, every=1.0):
    """check()'s first true result, asked every `every` s; an AssertionError naming `what` after
    `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)
