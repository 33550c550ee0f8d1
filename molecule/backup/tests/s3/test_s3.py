"""The repository on an S3-compatible store (side_effect.yml): encrypted in the bucket, backed up,
restored from."""

import json

from conftest import APP, STANZA, pgbackrest_info, playbook, query

STORE = "/opt/onebox-test-s3"
PREFIX = "onebox/molecule"

LIST_AND_READ = """
import json, sys, boto3
s3 = boto3.client("s3", endpoint_url="https://s3.onebox.test:9000", region_name="eu-central-1",
                  aws_access_key_id="onebox-test", aws_secret_access_key="onebox-test-secret",
                  verify="%s/ca.crt")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="onebox-backups", Prefix=sys.argv[1])["Contents"]]
head = s3.get_object(Bucket="onebox-backups", Key=sys.argv[2])["Body"].read()[:16]
print(json.dumps({"keys": keys, "head": head.hex()}))
"""


def bucket(host, key):
    """The keys under the repository's prefix, and the first bytes of one object."""
    out = host.check_output(
        "%s/bin/python -c %s %s %s", STORE, LIST_AND_READ % STORE, f"{PREFIX}/", f"{PREFIX}/{key}"
    )
    return json.loads(out)


def test_configuration_points_at_the_store(host):
    config = host.file("/etc/pgbackrest/pgbackrest.conf")
    assert (config.user, config.group, config.mode) == ("root", "postgres", 0o640)
    settings = dict(line.split("=", 1) for line in config.content_string.splitlines() if "=" in line)
    assert settings["repo1-type"] == "s3"
    assert settings["repo1-path"] == f"/{PREFIX}"
    assert settings["repo1-s3-endpoint"] == "s3.onebox.test"
    assert settings["repo1-s3-uri-style"] == "path"
    assert settings["repo1-storage-port"] == "9000"
    assert settings["repo1-storage-verify-tls"] == "y"
    assert settings["repo1-storage-ca-file"] == f"{STORE}/ca.crt"
    assert settings["repo1-cipher-type"] == "aes-256-cbc"


def test_the_stanza_lives_encrypted_in_the_bucket(host):
    found = bucket(host, f"backup/{STANZA}/backup.info")
    keys = found["keys"]
    assert f"{PREFIX}/archive/{STANZA}/archive.info" in keys
    assert any(k.startswith(f"{PREFIX}/backup/{STANZA}/") and k.endswith("F/backup.manifest") for k in keys)
    # pgBackRest's aes-256-cbc files carry OpenSSL's header, not the plain text of backup.info.
    assert bytes.fromhex(found["head"]).startswith(b"Salted__")


def test_converge_took_a_full_backup_into_the_store(host):
    info = pgbackrest_info(host)
    assert info["status"]["code"] == 0, info["status"]
    assert info["cipher"] == "aes-256-cbc"
    assert [b["type"] for b in info["backup"]] == ["full"]


def test_freshness_check_reads_the_store(host):
    assert host.run("systemctl start onebox-backup-freshness.service").rc == 0


def test_point_in_time_restore_from_the_store_to_after_the_last_write(host):
    # 40 rows stay below autovacuum's analyze threshold: nothing commits after the target
    # unless restore.yml does, and recovery needs a commit after it to stop there.
    query(host, "CREATE TABLE s3_probe AS SELECT generate_series(1, 40) AS n", user=APP, db=APP)
    target = query(host, "SELECT clock_timestamp()")
    playbook("restore.yml", {"confirm_restore": STANZA, "target_time": target})
    assert query(host, "SELECT count(*) FROM s3_probe", user=APP, db=APP) == "40"
    assert query(host, "SELECT pg_is_in_recovery()") == "f"
