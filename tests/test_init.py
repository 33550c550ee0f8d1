"""`make init`: a new inventory with fresh secrets, vault-encrypted, or nothing at all."""

import json
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def init(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [VENV_BIN / "ansible-playbook", "playbooks/init.yml", "-e", f"inventory_root={tmp_path}", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def inventory_graph(inventory: Path) -> dict:
    """ansible-inventory --list of the new inventory: its groups, hosts and variables."""
    listed = subprocess.run(
        [
            VENV_BIN / "ansible-inventory",
            "-i",
            inventory,
            "--vault-password-file",
            inventory / ".vault_pass",
            "--list",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(listed.stdout)


def vault_view(inventory: Path) -> dict:
    out = subprocess.run(
        [
            VENV_BIN / "ansible-vault",
            "view",
            "--vault-password-file",
            inventory / ".vault_pass",
            inventory / "group_vars/all/vault.yml",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return yaml.safe_load(out)


GOOD = ("-e", "env=prod", "-e", "domain=shop.example.org", "-e", "email=ops@example.org")


def test_init_writes_an_inventory_with_encrypted_fresh_secrets(tmp_path):
    result = init(tmp_path, *GOOD, "-e", "host=198.51.100.7")
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = tmp_path / "prod"

    vault_file = (inventory / "group_vars/all/vault.yml").read_text()
    assert vault_file.startswith("$ANSIBLE_VAULT;")
    assert (inventory / ".vault_pass").stat().st_mode & 0o777 == 0o600
    secrets = vault_view(inventory)
    assert len(secrets["vault_django_secret_key"]) == 64
    assert secrets["vault_django_secret_key"] not in vault_file
    # Backups are encrypted from the first one on: the repository's cipher is generated too.
    assert len(secrets["vault_backup_repo_cipher_pass"]) == 64
    assert secrets["vault_backup_repo_cipher_pass"] != secrets["vault_django_secret_key"]

    main = yaml.safe_load((inventory / "group_vars/all/main.yml").read_text())
    assert main["onebox_domain"] == "shop.example.org"
    assert main["onebox_admin_email"] == "ops@example.org"
    assert main["onebox_tls"] is True

    # Ansible itself reads the result: the host, its address and the decrypted secret.
    host = subprocess.run(
        [
            VENV_BIN / "ansible-inventory",
            "-i",
            inventory,
            "--vault-password-file",
            inventory / ".vault_pass",
            "--host",
            "prod1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"ansible_host": "198.51.100.7"' in host
    assert secrets["vault_django_secret_key"] in host


def test_each_inventory_gets_its_own_secrets(tmp_path):
    assert init(tmp_path, *GOOD).returncode == 0
    other = ("-e", "env=prod2", *GOOD[2:])
    assert init(tmp_path, *other).returncode == 0
    first, second = vault_view(tmp_path / "prod"), vault_view(tmp_path / "prod2")
    assert first["vault_django_secret_key"] != second["vault_django_secret_key"]
    assert (tmp_path / "prod/.vault_pass").read_text() != (tmp_path / "prod2/.vault_pass").read_text()


def test_an_existing_inventory_is_never_overwritten(tmp_path):
    assert init(tmp_path, *GOOD).returncode == 0
    before = (tmp_path / "prod/group_vars/all/vault.yml").read_text()
    again = init(tmp_path, *GOOD)
    assert again.returncode != 0
    assert "inventory/prod already exists" in again.stdout
    assert (tmp_path / "prod/group_vars/all/vault.yml").read_text() == before


def test_bad_input_names_the_variable_and_writes_nothing(tmp_path):
    result = init(tmp_path, "-e", '{"env": "prod", "domain": "not a domain", "email": "ops@example.org"}')
    assert result.returncode != 0
    assert (
        'make init: DOMAIN must be the site\'s DNS name, e.g. shop.example.org; got "not a domain".'
        in result.stdout
    )
    assert not (tmp_path / "prod").exists()


def test_a_replica_makes_a_two_host_inventory_in_the_database_groups(tmp_path):
    result = init(tmp_path, *GOOD, "-e", "host=198.51.100.7", "-e", "replica=198.51.100.8")
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = tmp_path / "prod"
    secrets = vault_view(inventory)
    assert len(secrets["vault_postgresql_replication_password"]) == 32
    assert len(secrets["vault_db_password"]) == 32
    graph = inventory_graph(inventory)
    assert set(graph["onebox"]["children"]) >= {"db", "db_replica"}
    assert graph["db"]["hosts"] == ["prod1"]
    assert graph["db_replica"]["hosts"] == ["prod2"]
    replica = graph["_meta"]["hostvars"]["prod2"]
    assert replica["ansible_host"] == "198.51.100.8"
    assert replica["postgresql_tls"] is True
    assert replica["postgresql_listen_addresses"] == "localhost,{{ onebox_private_address }}"


def test_a_database_host_makes_the_app_and_db_groups_and_the_plays_follow_them(tmp_path):
    result = init(
        tmp_path, *GOOD, "-e", "host=198.51.100.7", "-e", "db=198.51.100.9", "-e", "replica=198.51.100.8"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = tmp_path / "prod"
    assert len(vault_view(inventory)["vault_db_password"]) == 32
    graph = inventory_graph(inventory)
    assert graph["app"]["hosts"] == ["prod1"]
    assert graph["db"]["hosts"] == ["proddb1"]
    assert graph["db_replica"]["hosts"] == ["prod2"]
    primary = graph["_meta"]["hostvars"]["proddb1"]
    assert primary["ansible_host"] == "198.51.100.9"
    assert primary["postgresql_tls"] is True
    assert primary["postgresql_listen_addresses"] == "localhost,{{ onebox_private_address }}"


def test_a_database_host_on_the_apps_address_is_refused(tmp_path):
    result = init(tmp_path, *GOOD, "-e", "host=198.51.100.7", "-e", "db=198.51.100.7")
    assert result.returncode != 0
    assert "make init: DB must be empty or the database host's address or DNS name" in result.stdout
    assert not (tmp_path / "prod").exists()


def test_a_replica_on_the_primarys_address_is_refused(tmp_path):
    result = init(tmp_path, *GOOD, "-e", "host=198.51.100.7", "-e", "replica=198.51.100.7")
    assert result.returncode != 0
    assert (
        "make init: REPLICA must be empty or the replica's address or DNS name, and not HOST" in result.stdout
    )
    assert not (tmp_path / "prod").exists()
