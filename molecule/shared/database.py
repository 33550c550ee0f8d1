"""SQL on a scenario's host, over the unix socket as an OS user (peer authentication): the same way
for every scenario's tests."""


def psql(host, sql, user="postgres", db="postgres"):
    """The run of psql (unaligned, tuples only, stops at the first error), for a test that reads its
    exit status or its errors."""
    return host.run("runuser -u %s -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", user, db, sql)


def query(host, sql, user="postgres", db="postgres"):
    """The output of SQL that must succeed."""
    result = psql(host, sql, user, db)
    assert result.rc == 0, f"{sql}: {result.stderr}"
    return result.stdout.strip()
