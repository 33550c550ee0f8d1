"""One way to ask a role whether it takes some input: its validation (argument specs and
tasks/validate.yml, tagged `validate`) run against this machine in check mode, so even a gap in the
checks could change nothing."""

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PLAY = "- name: Check {role}'s inputs\n  hosts: localhost\n  roles:\n    - role: {role}\n"


@dataclass
class Outcome:
    returncode: int
    output: str
    # The words of the failure, from "fatal: [localhost]" to the recap, line breaks folded.
    message: str
    # The last task that started before the failure.
    failed_task: str


def check_inputs(tmp_path: Path, role: str, variables: dict) -> Outcome:
    (tmp_path / "play.yml").write_text(PLAY.format(role=role))
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    result = subprocess.run(
        [
            VENV_BIN / "ansible-playbook",
            "--inventory=localhost,",
            "--connection=local",
            "--check",
            "--tags=validate",
            f"--extra-vars=ansible_python_interpreter={sys.executable}",
            f"--extra-vars=@{tmp_path / 'vars.json'}",
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
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout + result.stderr
    failure = re.search(r"(fatal|failed): \[localhost\]", out)
    message, task = "", ""
    if failure:
        end = out.find("PLAY RECAP", failure.start())
        message = " ".join(out[failure.start() : end if end > 0 else None].split())
        tasks = re.findall(r"TASK \[([^\]]*)\]", out[: failure.start()])
        task = tasks[-1] if tasks else ""
    return Outcome(result.returncode, out, message, task)
