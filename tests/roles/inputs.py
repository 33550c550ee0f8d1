"""One way to run a role against this machine for its input checks: in check mode, with the
project's ansible.cfg, so even a gap in the checks could change nothing. The role tests share it.

    run_role(tmp_path, role, variables, *ansible_playbook_args) -> subprocess.CompletedProcess
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

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PLAY = "- name: Apply the {role} role to this machine\n  hosts: localhost\n  roles:\n    - role: {role}\n"


def run_role(tmp_path: Path, role: str, variables: dict, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "play.yml").write_text(PLAY.format(role=role))
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    return subprocess.run(
        [
            VENV_BIN / "ansible-playbook",
            "--inventory=localhost,",
            "--connection=local",
            "--check",
            f"--extra-vars=ansible_python_interpreter={sys.executable}",
            f"--extra-vars=@{tmp_path / 'vars.json'}",
            *args,
            tmp_path / "play.yml",
        ],
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
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


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
    result = run_role(tmp_path, role, variables, "--tags=validate")
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
