"""Each tag the README documents runs alone: `site.yml --tags <tag>` on the converged host finishes
with failed=0, runs its role's tasks, and never meets an undefined variable.

The tags are read from the README's table (tests/test_role_conventions.py checks that the table and
the roles agree). A role's own tag, when the role has phase tags, is not run here: it is the union of
its phases (tests/test_role_conventions.py checks that every task of the role carries one), each of
which runs alone below, and the converge ran all of them together. The rest are shared out between
the distros the matrix runs this scenario on (every second tag on each), so the list costs one
distro's time; a run on one distro tests its share.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "molecule" / "shared"))

from scenario import distro_share, documented_tags, playbook, words  # noqa: E402


def alone(tags):
    """Without the role tags that are the union of phase tags also listed."""
    return [tag for tag in tags if not any(other.startswith(f"{tag}-") for other in tags)]


@pytest.mark.parametrize("tag", distro_share(alone(documented_tags())))
def test_a_documented_tag_runs_alone(tag):
    result = playbook("site.yml", "--tags", tag)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "failed=0 " in out, out[-4000:]
    assert "undefined" not in out, out[-4000:]
    role = tag.split("-")[0]
    if role != "validate":
        assert f"TASK [{role} : " in out, f"--tags {tag} ran none of the {role} role's tasks:\n{out[-4000:]}"


def test_a_check_path_that_nginx_gives_to_the_frontend_is_named():
    """The release checks through the site (nginx-site-checks): a path Django answers on its socket
    but nginx sends to the frontend gets the frontend's index.html with 200, and is named as such."""
    result = playbook(
        "site.yml",
        "--tags",
        "nginx-site-checks",
        "-e",
        '{"django_release_checks": ["/health/", "/catalog/"]}',
    )
    out = words(result)
    assert result.returncode != 0, out[-3000:]
    assert "GET /catalog/ through the site answered the frontend's index.html, not Django" in out, out[-3000:]
    assert "Add its prefix to nginx_proxy_paths" in out
    assert "GET /health/ through the site" not in out
