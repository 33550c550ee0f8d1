"""roles/backup/files: the host-side programs of the backup role, against stand-ins for psql
(through runuser) and systemctl on PATH."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT = ROOT / "roles" / "backup" / "files" / "recovery_wait.py"
spec = importlib.util.spec_from_file_location("recovery_wait", WAIT)
recovery_wait = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recovery_wait)


@pytest.fixture
def host(tmp_path):
    """A PATH whose runuser prints what `answers` says next (one line per call: t, f or down) and
    whose systemctl says the unit is active while `unit-active` exists."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answers = tmp_path / "answers"
    (bin_dir / "runuser").write_text(
        "#!/bin/sh\n"
        f'next=$(head -n 1 "{answers}"); sed -i 1d "{answers}"\n'
        '[ "$next" = down ] && { echo "psql: could not connect" >&2; exit 2; }\n'
        'echo "$next"\n'
    )
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\n[ -e "{tmp_path}/unit-active" ]\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return tmp_path


def wait(host, answers, capsys, monkeypatch, *, active=True, timeout=5):
    (host / "answers").write_text("\n".join(answers) + "\n")
    if active:
        (host / "unit-active").touch()
    monkeypatch.setattr(recovery_wait, "RUNUSER", str(host / "bin" / "runuser"))
    monkeypatch.setattr(recovery_wait, "SYSTEMCTL", str(host / "bin" / "systemctl"))
    code = recovery_wait.main(["--unit=postgresql@15-main", f"--timeout={timeout}", "--interval=0.01"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_waits_through_recovery_and_a_restart_until_promoted(host, capsys, monkeypatch):
    code, out, err = wait(host, ["down", "t", "t", "f"], capsys, monkeypatch)
    assert code == 0, err
    assert "finished recovery" in out
    assert (host / "answers").read_text().strip() == ""


def test_a_cluster_that_stopped_ends_the_wait_at_once(host, capsys, monkeypatch):
    code, _, err = wait(host, ["t", "down"] + ["t"] * 50, capsys, monkeypatch, active=False, timeout=60)
    assert code == 1
    assert "stopped during recovery" in err
    assert "journalctl -u postgresql@15-main" in err


def test_a_recovery_that_outlasts_the_timeout_fails(host, capsys, monkeypatch):
    code, _, err = wait(host, ["t"] * 1000, capsys, monkeypatch, timeout=0.2)
    assert code == 2
    assert "still in recovery" in err
