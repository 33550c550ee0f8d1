"""Bad input to the backup role stops the play before anything changes, naming the variable.

Each case runs the real role against this machine in check mode, limited to its validation
(`--tags validate`), and checks that the play failed in the argument specs or tasks/validate.yml
with a message naming the variable. The control case passes the same validation.
"""

import re
import sys
from pathlib import Path

import inputs
import pytest

ROOT = Path(__file__).resolve().parents[2]
VALIDATION = re.compile(
    r"TASK \[backup : (Check [^\]]*|Read the schedules[^\]]*|Validating arguments[^\]]*)\]"
)
BIN = Path(sys.executable).parent

GOOD = {"onebox_app_name": "portfolio"}
S3 = {
    "backup_repo_type": "s3",
    "backup_s3_endpoint": "s3.eu-central-1.amazonaws.com",
    "backup_s3_bucket": "onebox-backups",
    "backup_s3_region": "eu-central-1",
    "backup_s3_key": "AKIAEXAMPLEKEY",
    "backup_s3_key_secret": "example-secret-not-a-real-one",
    "backup_repo_cipher_pass": "a-long-passphrase-from-the-vault-0123456789",
}


def validate(tmp_path, variables):
    result = inputs.run_role(tmp_path, "backup", variables, "--tags=validate")
    return result.returncode, " ".join((result.stdout + result.stderr).split())


@pytest.mark.parametrize("variables", [GOOD, {**GOOD, **S3}], ids=["local repository", "s3 store"])
def test_good_input_passes_validation(tmp_path, variables):
    rc, output = validate(tmp_path, variables)
    assert rc == 0, output
    assert "TASK [backup : Check the inputs]" in output


WARNING = "[WARNING]: The backups of portfolio are on the database's own disk"


def test_a_repository_on_the_databases_disk_is_warned_about_on_every_run(tmp_path):
    rc, output = validate(tmp_path, GOOD)
    assert rc == 0, output
    assert WARNING in output, output[-3000:]
    assert "backup_local_repository_ok: true" in output


@pytest.mark.parametrize(
    "variables",
    [{**GOOD, "backup_local_repository_ok": True}, {**GOOD, **S3}],
    ids=["local repository on purpose", "s3 store"],
)
def test_no_warning_when_the_repository_is_meant_to_be_there(tmp_path, variables):
    rc, output = validate(tmp_path, variables)
    assert rc == 0, output
    assert WARNING not in output


CASES = {
    "s3 without a cipher": ({**S3, "backup_repo_cipher_pass": ""}, "backup_repo_cipher_pass"),
    "s3 with a short cipher": ({**S3, "backup_repo_cipher_pass": "short"}, "backup_repo_cipher_pass"),
    "stanza with a slash": ({"backup_stanza": "a/b"}, "backup_stanza"),
    "zero archive timeout": ({"backup_archive_timeout": 0}, "backup_archive_timeout"),
    "zero full backups kept": ({"backup_retention_full": 0}, "backup_retention_full"),
    "negative freshness limit": ({"backup_freshness_max_age_hours": -1}, "backup_freshness_max_age_hours"),
    "unknown repository type": ({"backup_repo_type": "ftp"}, "backup_repo_type"),
    "relative repository path": ({"backup_repo_path": "backups"}, "backup_repo_path"),
    "unknown compression": ({"backup_compress_type": "xz"}, "backup_compress_type"),
    "s3 without a bucket": ({**S3, "backup_s3_bucket": ""}, "backup_s3_bucket"),
    "s3 without its secret": ({**S3, "backup_s3_key_secret": ""}, "backup_s3_key_secret"),
    "s3 uri style": ({**S3, "backup_s3_uri_style": "virtual"}, "backup_s3_uri_style"),
    "not a calendar": ({"backup_full_schedule": "every sunday"}, "backup_full_schedule"),
    "calendar with a line break": (
        {"backup_diff_schedule": "daily\nExecStart=/bin/sh"},
        "backup_diff_schedule",
    ),
    "not a time span": ({"backup_randomized_delay": "soon"}, "backup_randomized_delay"),
    "option with a line break": (
        {"backup_global_options": {"repo1-path": "/x\n[other]"}},
        "backup_global_options",
    ),
    "unit that is not a unit": ({"backup_restore_app_units": ["portfolio"]}, "backup_restore_app_units"),
}


# Every case in one run (inputs.run_cases), each a host of its own.
refusals = inputs.batch(
    "backup", {case: {**GOOD, **overrides} for case, (overrides, _) in CASES.items()}, "--tags=validate"
)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_before_any_change(refusals, case):
    variable = CASES[case][1]
    rc, output = refusals[case].returncode, " ".join((refusals[case].stdout + refusals[case].stderr).split())
    assert rc != 0, output
    failed = re.search(r"(fatal|failed): \[localhost\]", output)
    assert failed, output
    failure = failed.start()
    assert variable in output[failure:], output
    last_task = list(re.finditer(r"TASK \[[^\]]*\]", output[:failure]))[-1].group(0)
    assert VALIDATION.fullmatch(last_task), last_task
    assert "changed=0" in output
