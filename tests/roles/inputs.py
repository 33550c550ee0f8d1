"""One way to run a role against this machine for its input checks: in check mode, with the
project's ansible.cfg, so even a gap in the checks could change nothing. The role tests share it.

    run_role(tmp_path, role, variables, *ansible_playbook_args) -> subprocess.CompletedProcess
    run_cases(tmp_path, role, {case: variables}, *args) -> {case: subprocess.CompletedProcess}
    refusals = batch(role, {case: variables}, *args)   a module fixture: run_cases' outcomes
    check_inputs(tmp_path, role, variables) -> Outcome   (only the tasks tagged `validate`)
    failure_message(output) -> the failure's words, line breaks folded
    assert_refused(result, name, reason, where=..., not_reached=...) -> the failure's words
"""

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PLAY = "- name: Apply the {role} role to this machine\n  hosts: all\n  roles:\n    - role: {role}\n"


def run_role(tmp_path: Path, role: str, variables: dict, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    return _playbook(
        tmp_path,
        role,
        "--inventory=localhost,",
        "--connection=local",
        f"--extra-vars=ansible_python_interpreter={sys.executable}",
        f"--extra-vars=@{tmp_path / 'vars.json'}",
        *args,
    )


def _playbook(tmp_path: Path, role: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "play.yml").write_text(PLAY.format(role=role))
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    return subprocess.run(
        [VENV_BIN / "ansible-playbook", "--check", *args, tmp_path / "play.yml"],
        cwd=ROOT,
        env={
            "PATH": f"{VENV_BIN}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CACHE_PLUGIN": "memory",
            # The controller's scratch folders (the frontend's build snapshot), for the test to look into.
            "TMPDIR": str(scratch),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# Many cases, one run: each case is a host of its own (this machine, over the local connection) with
# the case's variables as its host variables, so Ansible starts, loads the role and gathers facts once
# instead of once a case. The hosts fail or pass independently; each case then gets the run's output
# as a run of its own would have printed it (its lines only, its host named localhost), so the checks
# read it as they read run_role's.
# A result line names its host, and the host it was delegated to: "ok: [case-3 -> localhost]".
RESULT = re.compile(
    r"^(?:ok|changed|fatal|failed|skipping|ignoring|unreachable|rescued|\.\.\.ignoring)"
    r": \[([^\]\s]+)(?: -> [^\]]+)?\]"
)
INCLUDED = re.compile(r"^included: .* for (.+)$")
HEADER = re.compile(r"^(PLAY|TASK|RUNNING HANDLER) \[")
RECAP = re.compile(r"^(\S+)(\s+: ok=.*)$")


def run_cases(
    tmp_path: Path, role: str, cases: dict[str, dict], *args: str, shared: tuple[str, ...] = ()
) -> dict[str, subprocess.CompletedProcess]:
    """`shared`: variables a run_once task of the role reads (the project on the controller): it runs
    for the first host and its result stands for all, so cases that differ in them run apart."""
    groups: dict[str, dict[str, dict]] = {}
    for case, variables in cases.items():
        key = json.dumps([variables.get(name) for name in shared])
        groups.setdefault(key, {})[case] = variables
    outcomes = {}
    for number, group in enumerate(groups.values()):
        outcomes |= _run_group(tmp_path / f"group-{number}", role, group, *args)
    return outcomes


def batch(role: str, cases: dict[str, dict], *args: str, shared: tuple[str, ...] = ()):
    """A module fixture of a test file's cases: all of them in as few runs as run_cases allows."""

    @pytest.fixture(scope="module")
    def outcomes(tmp_path_factory):
        return run_cases(tmp_path_factory.mktemp("cases"), role, cases, *args, shared=shared)

    return outcomes


def _run_group(
    tmp_path: Path, role: str, cases: dict[str, dict], *args: str
) -> dict[str, subprocess.CompletedProcess]:
    tmp_path.mkdir()
    names = {f"case-{number}": case for number, case in enumerate(cases)}
    # The onebox role's read of the installed packages (for the apt tasks no case reaches) is given,
    # not made once a host.
    local = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "onebox_installed_packages": [],
    }
    hosts = {host: {**local, **cases[case]} for host, case in names.items()}
    (tmp_path / "inventory.json").write_text(json.dumps({"all": {"hosts": hosts}}))
    facts = _facts_for(tmp_path.parent / "facts", list(hosts))
    result = _playbook(
        tmp_path,
        role,
        f"--inventory={tmp_path / 'inventory.json'}",
        *args,
        ANSIBLE_CACHE_PLUGIN="jsonfile",
        ANSIBLE_CACHE_PLUGIN_CONNECTION=str(facts),
        # Mitogen starts a context per host, even over the local connection: the plain strategy
        # runs these checks (on the controller) in half the time.
        ANSIBLE_STRATEGY="linear",
    )
    transcripts = _split_by_host(result.stdout, list(hosts))
    # A change anywhere in the run (a run_once task reports for its first host only) is every case's.
    changes = [line for line in result.stdout.splitlines() if line.startswith("changed: [")]
    outcomes = {}
    for host, case in names.items():
        out, failed = transcripts[host]
        out += "".join(
            re.sub(r"\[[^\]]*\]", "[localhost]", line, count=1) + "\n"
            for line in changes
            if f"[{host}" not in line
        )
        # The run's stderr is Ansible's own warnings, no host's: left out, so no case reads another's.
        outcomes[case] = subprocess.CompletedProcess(result.args, 2 if failed else 0, out, "")
    return outcomes


def _facts_for(cache: Path, hosts: list[str]) -> Path:
    """This machine's facts, gathered once by a play (whose cache entry says so, as `gathering = smart`
    asks), in a fact cache under each host's name."""
    gathered = cache.parent / "gathered"
    if not gathered.exists():
        play = cache.parent / "gather.yml"
        play.write_text("- name: Gather the facts\n  hosts: all\n  gather_facts: true\n  tasks: []\n")
        subprocess.run(
            [
                VENV_BIN / "ansible-playbook",
                "--inventory=localhost,",
                "--connection=local",
                f"--extra-vars=ansible_python_interpreter={sys.executable}",
                play,
            ],
            env={
                "PATH": f"{VENV_BIN}:/usr/bin:/bin",
                "HOME": str(cache.parent),
                "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                "ANSIBLE_CACHE_PLUGIN": "jsonfile",
                "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(gathered),
            },
            capture_output=True,
            timeout=120,
            check=True,
        )
    cache.mkdir(exist_ok=True)
    (entry,) = [path for path in gathered.iterdir() if path.name.endswith("localhost")]
    for host in hosts:
        (cache / (entry.name[: -len("localhost")] + host)).write_bytes(entry.read_bytes())
    return cache


def _split_by_host(stdout: str, hosts: list[str]) -> dict[str, tuple[str, bool]]:
    """Each host's share of a run's output, as (text with the host named localhost, whether it failed).
    A result line names its host and the indented lines after it are its details; an [ERROR] or
    [WARNING] block printed before a result belongs to that result's host."""
    lines = {host: [] for host in hosts}
    failed = dict.fromkeys(hosts, False)
    header, owners, pending, last = "", [], [], {}

    def emit(host, text):
        # A header again for each task in turn, even one of the same name as the one before.
        if last.get(host) is not section:
            last[host] = section
            lines[host] += ["", header]
        lines[host].append(text)

    section = object()
    for line in stdout.splitlines():
        result, included, recap = RESULT.match(line), INCLUDED.match(line), RECAP.match(line)
        if HEADER.match(line) or line.startswith("PLAY RECAP"):
            header, owners, pending, section = line, [], [], object()
        elif recap and recap.group(1) in lines:
            host = recap.group(1)
            failed[host] = not re.search(r"failed=0\s+", line) or not re.search(r"unreachable=0\s", line)
            emit(host, "localhost".ljust(len(host)) + recap.group(2))
        elif result or included:
            owners = [result.group(1)] if result else [name.strip() for name in included.group(1).split(",")]
            owners = [host for host in owners if host in lines]
            for host in owners:
                for text in [*pending, line[: included.start(1)] + "localhost" if included else line]:
                    emit(host, text)
            pending = []
        elif line.startswith("[") or (not owners and line.strip()):
            owners, pending = [], [*pending, line]
        else:
            for host in owners:
                emit(host, line)
            if not owners and pending:
                pending.append(line)
    return {
        host: (
            re.sub(rf"\[{re.escape(host)}(?: -> [^\]]+)?\]", "[localhost]", "\n".join(text)) + "\n",
            failed[host],
        )
        for host, text in lines.items()
    }


FAILURE = re.compile(r"(fatal|failed): \[localhost\]")


def failure_message(out: str) -> str:
    """From "fatal: [localhost]" (or "failed:" for a looped task) to the recap, on one line: Ansible
    folds long messages where path lengths put the line ends, and the words are what matter."""
    failure = FAILURE.search(out)
    if not failure:
        return ""
    end = out.find("PLAY RECAP", failure.start())
    return " ".join(out[failure.start() : end if end > 0 else None].split())


@dataclass
class Outcome:
    returncode: int
    output: str
    message: str
    # The last task that started before the failure.
    failed_task: str


def check_inputs(tmp_path: Path, role: str, variables: dict) -> Outcome:
    return outcome(run_role(tmp_path, role, variables, "--tags=validate"))


def outcome(result: subprocess.CompletedProcess) -> Outcome:
    out = result.stdout + result.stderr
    failure = FAILURE.search(out)
    tasks = re.findall(r"TASK \[([^\]]*)\]", out[: failure.start()]) if failure else []
    return Outcome(result.returncode, out, failure_message(out), tasks[-1] if tasks else "")


def assert_refused(
    result: subprocess.CompletedProcess,
    name: str,
    reason: str = "",
    *,
    where: str = "",
    not_reached: str = "",
) -> str:
    """The play stopped with a message naming `name` (and saying `reason`), and nothing changed: no
    task reported a change and the recap says changed=0. `where` (the task file or task that must
    have refused) must be in the output, `not_reached` (a task past the checks) must not."""
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    message = failure_message(out)
    assert message, out
    assert name in message, message
    assert reason in message, message
    assert "changed: [localhost]" not in out
    assert "changed=0" in out[out.index("PLAY RECAP") :], out
    if where:
        assert where in out, out
    if not_reached:
        assert not_reached not in out, out
    return message
