"""The frontend role refuses bad input before it changes anything, naming the variable at fault.

The role runs with ansible-playbook against this machine in check mode: it must stop in its
validation (or, for an output without index.html, in the controller-side build) with nothing
changed. A control run with good input passes the same stages, so each failure is the input's.
"""

from pathlib import Path

import inputs
import pytest

GOOD = {"onebox_app_name": "portfolio"}


def run_role(tmp_path: Path, variables: dict, *args: str):
    return inputs.run_role(tmp_path, "frontend", variables, *args)


@pytest.fixture
def static_site(tmp_path):
    """A plain static folder: no package.json, nothing to build."""
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text('<script src="/assets/app-1234abcd.js"></script>\n')
    (site / "assets" / "app-1234abcd.js").write_text("console.log('hi')\n")
    return site


def static(site: Path) -> dict:
    return GOOD | {"frontend_source_dir": str(site), "frontend_build_command": "", "frontend_dist_dir": "."}


def test_good_input_passes_validation_and_the_build(tmp_path, static_site):
    result = run_role(tmp_path, static(static_site), "--tags=validate,frontend-build")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout
    assert "Compute the release id" in result.stdout
    # The release is in the controller's build cache, and the build's scratch folder is gone.
    cache = tmp_path / ".cache" / "onebox" / "frontend"
    assert len(list(cache.glob("*.tar.gz"))) == 1
    assert [len(f.read_text().strip()) for f in cache.glob("*.id")] == [16]
    assert not [p for p in (tmp_path / "tmp").iterdir() if p.name.endswith(".onebox-frontend")]


def test_an_unchanged_source_is_not_built_again(tmp_path):
    """The build runs when what it reads changed (a source file, the build command), not otherwise."""
    source = tmp_path / "source"
    (source / "src").mkdir(parents=True)
    (source / "src" / "index.html").write_text("<h1>first</h1>\n")
    builds = tmp_path / "builds"
    build = f"echo built >> {builds} && rm -rf out && cp -r src out"
    variables = GOOD | {
        "frontend_source_dir": str(source),
        "frontend_build_command": build,
        "frontend_dist_dir": "out",
    }
    ids = []
    for change in (None, None, "second"):
        if change:
            (source / "src" / "index.html").write_text(f"<h1>{change}</h1>\n")
        tags = "--tags=validate,frontend-build"
        result = run_role(tmp_path, variables, tags, "-e", "frontend_install_command=")
        assert result.returncode == 0, result.stdout + result.stderr
        ids.append(sorted(f.read_text() for f in (tmp_path / ".cache" / "onebox" / "frontend").glob("*.id")))
    assert builds.read_text().splitlines() == ["built", "built"]
    assert ids[0] == ids[1]
    assert len(ids[2]) == 2


CASES = {
    "one release kept": (GOOD | {"frontend_keep_releases": 1}, "frontend_keep_releases", "at least 2"),
    "absolute assets folder": (
        GOOD | {"frontend_assets_dir": "/assets"},
        "frontend_assets_dir",
        "relative path",
    ),
    "assets folder climbing up": (
        GOOD | {"frontend_assets_dir": "../assets"},
        "frontend_assets_dir",
        "no '..'",
    ),
    "assets folder named like the releases": (
        GOOD | {"frontend_assets_dir": "releases"},
        "frontend_assets_dir",
        "not releases/current/history",
    ),
    "extension with a dot": (
        GOOD | {"frontend_precompress_extensions": ["js", ".css"]},
        "frontend_precompress_extensions",
        "bare extensions",
    ),
    "app name with a slash": (GOOD | {"frontend_app_name": "port/folio"}, "frontend_app_name", "lower case"),
    "missing source folder": (
        GOOD | {"frontend_source_dir": "/nonexistent/frontend"},
        "frontend_source_dir",
        "/nonexistent/frontend is not one",
    ),
}


# The cases in one run a source folder (inputs.run_cases: the controller's source is looked at once
# a run), each a host of its own.
refusals = inputs.batch(
    "frontend",
    {case: variables for case, (variables, _, _) in CASES.items()},
    shared=("frontend_source_dir",),
)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_the_play_before_any_change(refusals, case):
    _, name, reason = CASES[case]
    inputs.assert_refused(refusals[case], name, reason, not_reached="Ensure gzip and brotli are installed")


def test_output_without_index_html_stops_before_the_host_is_touched(tmp_path, static_site):
    (static_site / "index.html").unlink()
    result = run_role(tmp_path, static(static_site))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    message = inputs.failure_message(out)
    assert "frontend_dist_dir" in message, message
    assert "has no index.html after the build" in message, message
    assert "Unpack the release" not in out
    # The build's scratch folder on the controller went with the failure.
    assert "Remove the build's scratch folder" in out
    assert list((tmp_path / "tmp").iterdir()) == []
