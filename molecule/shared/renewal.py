"""Certificate renewal as cron runs it, for the scenarios that test it (certbot, stack)."""

import re
import shlex

CRON_FILE = "/etc/cron.d/certbot-renew"
# cron runs a job through /bin/sh with the file's PATH and nothing else from any login.
CRON_PATH = "/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin"


def cron_jobs(host):
    """The job lines of the cron file: not comments, blanks or VAR=value settings."""
    lines = host.file(CRON_FILE).content_string.splitlines()
    return [
        line
        for line in lines
        if line.strip() and not line.lstrip().startswith("#") and not re.match(r"^[A-Za-z_]+=", line)
    ]


def renew_command(host):
    """The cron job's command, exactly as cron would run it, without the random sleep in front."""
    (job,) = cron_jobs(host)
    command = job.split(None, 6)[6]
    sleep, sep, rest = command.partition("&&")
    assert sep, command
    assert sleep.strip().startswith("sleep "), command
    return rest.strip()


def run_renewal(host, *extra):
    command = renew_command(host) + "".join(" " + shlex.quote(arg) for arg in extra)
    return host.run("env -i PATH=%s /bin/sh -c %s", CRON_PATH, command)
