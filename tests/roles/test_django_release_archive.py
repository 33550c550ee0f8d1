"""roles/django/files/release_archive.py: what ships, under which id, in which bytes."""

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "django" / "files" / "release_archive.py"


def run(*args: str) -> dict | list:
    out = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def archive(source: Path, out: Path, *extra: str) -> dict:
    return run("archive", str(source), "--requirements", "requirements.txt", "--out-dir", str(out), *extra)


def names(result: dict) -> set[str]:
    with tarfile.open(result["archive"]) as tar:
        return {m.name for m in tar.getmembers() if not m.isdir()}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    source = tmp_path / "project"
    (source / "config").mkdir(parents=True)
    (source / "config" / "wsgi.py").write_text("application = object()\n")
    (source / "manage.py").write_text("print('manage')\n")
    (source / "manage.py").chmod(0o755)
    (source / "requirements.txt").write_text("Django==5.2.19\n")
    return source


def test_the_same_content_gives_the_same_id_and_the_same_bytes(project, tmp_path):
    first = archive(project, tmp_path / "a")
    (project / "manage.py").touch()  # a new mtime is not new content
    second = archive(project, tmp_path / "b")
    assert first["id"] == second["id"]
    assert Path(first["archive"]).read_bytes() == Path(second["archive"]).read_bytes()
    with tarfile.open(first["archive"]) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, members[0].mtime)}


def test_content_and_the_executable_bit_change_the_id(project, tmp_path):
    before = archive(project, tmp_path / "a")["id"]
    (project / "config" / "wsgi.py").write_text("application = object()  # changed\n")
    changed = archive(project, tmp_path / "b")["id"]
    (project / "manage.py").chmod(0o644)
    mode_changed = archive(project, tmp_path / "c")["id"]
    assert len({before, changed, mode_changed}) == 3


def test_outside_git_the_obvious_junk_stays_behind(project, tmp_path):
    for junk in (
        "__pycache__/x.pyc",
        ".git/HEAD",
        ".venv/bin/python",
        "node_modules/x.js",
        "var/db.sqlite3",
        ".env",
        "config/stale.pyc",
    ):
        (project / junk).parent.mkdir(parents=True, exist_ok=True)
        (project / junk).write_text("junk")
    (project / "config" / "var").mkdir()
    (project / "config" / "var" / "kept.txt").write_text("only the top-level var/ is junk")
    result = archive(project, tmp_path / "out")
    assert result["selection"] == "tree"
    assert result["commit"] == ""
    assert names(result) == {"config/wsgi.py", "config/var/kept.txt", "manage.py", "requirements.txt"}


def test_in_git_what_git_ignores_stays_behind_and_untracked_files_ship(project, tmp_path):
    git(project, "init", "-q")
    (project / ".gitignore").write_text("secret.txt\nbuild/\n")
    (project / "secret.txt").write_text("no")
    (project / "build").mkdir()
    (project / "build" / "out.js").write_text("no")
    git(project, "add", ".")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "first")
    (project / "new_module.py").write_text("# untracked, not ignored: ships\n")
    result = archive(project, tmp_path / "out")
    assert result["selection"] == "git"
    assert result["commit"].endswith("-dirty")
    assert names(result) == {".gitignore", "config/wsgi.py", "manage.py", "requirements.txt", "new_module.py"}


def test_a_copy_in_an_ignored_directory_of_a_work_tree_ships_as_a_plain_tree(project, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".cache/\n")
    copy = repo / ".cache" / "project"
    copy.parent.mkdir()
    project.rename(copy)
    result = archive(copy, tmp_path / "out")
    assert result["selection"] == "tree"
    assert "manage.py" in names(result)


def test_excludes_take_paths_and_directories(project, tmp_path):
    (project / "tests").mkdir()
    (project / "tests" / "test_x.py").write_text("")
    (project / "docs.md").write_text("")
    result = archive(project, tmp_path / "out", "--exclude", "tests", "--exclude", "*.md")
    assert names(result) == {"config/wsgi.py", "manage.py", "requirements.txt"}


@pytest.mark.parametrize(
    ("code", "defines"),
    [
        ("application = get_app()\n", True),
        ("application: object = None\n", True),
        ("def application(environ, start_response):\n    pass\n", True),
        ("from somewhere import application\n", True),
        ("from somewhere import app as application\n", True),
        ("try:\n    from a import application\nexcept ImportError:\n    application = None\n", True),
        ("def factory():\n    application = 1\n", False),
        ("app = object()\n", False),
    ],
)
def test_inspect_finds_a_top_level_binding(tmp_path, code, defines):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "wsgi.py").write_text(code)
    (result,) = run("inspect", str(tmp_path), "pkg.wsgi:application")
    assert result["file"] == str(tmp_path / "pkg" / "wsgi.py")
    assert result["defines"] is defines


def test_inspect_reports_missing_modules_packages_and_syntax_errors(tmp_path):
    (tmp_path / "pkg" / "settings").mkdir(parents=True)
    (tmp_path / "pkg" / "settings" / "__init__.py").write_text("DEBUG = False\n")
    (tmp_path / "pkg" / "broken.py").write_text("def (:\n")
    missing, package, broken = run(
        "inspect", str(tmp_path), "pkg.nowhere:app", "pkg.settings", "pkg.broken:app"
    )
    assert missing["file"] is None
    assert package["file"].endswith("pkg/settings/__init__.py")
    assert "does not parse" in broken["error"]
