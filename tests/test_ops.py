"""scripts/ops.py (make ops-ui, make logs): the SSH command is the one Ansible would use for the
inventory's host (address, port, user, key, options, as the inventory templates them), and what it
forwards or follows stays on the host's loopback."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPS = ROOT / "scripts" / "ops.py"


def run(*args):
    return subprocess.run([sys.executable, str(OPS), *args], capture_output=True, text=True, check=False)


def ops(*args):
    result = run(*args, "--print")
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_ui_tunnel_reaches_prometheus_and_alertmanager_on_the_hosts_loopback():
    argv = ops("ui", "local")
    assert argv[:3] == ["ssh", "-p", os.environ.get("ONEBOX_SSH_PORT") or "2222"]
    assert argv[-1] == "deploy@127.0.0.1"
    key = argv[argv.index("-i") + 1]
    assert Path(key).resolve() == ROOT / ".local" / "ssh" / "id_ed25519"
    # Forwards bound to this machine's loopback only, to the host's loopback ports.
    assert "-L127.0.0.1:19090:127.0.0.1:9090" in argv
    assert "-L127.0.0.1:19093:127.0.0.1:9093" in argv
    assert "-N" in argv
    assert "ExitOnForwardFailure=yes" in argv


def test_logs_follow_the_apps_service_by_default_and_any_unit_on_request():
    assert ops("logs", "local")[-4:] == ["journalctl", "--follow", "--lines=100", "--unit=portfolio.service"]
    assert ops("logs", "local", "--unit", "nginx")[-1] == "--unit=nginx"


def test_an_unknown_inventory_is_named():
    result = run("ui", "nowhere")
    assert result.returncode != 0
    assert "no inventory" in result.stderr
    assert "nowhere" in result.stderr
