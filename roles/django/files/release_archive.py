#!/usr/bin/env python3
"""The controller's half of a django role release: what ships, under which id, as one archive.

The role runs this with the controller's Python (ansible_playbook_python); only the standard
library is used.

    release_archive.py archive SOURCE --requirements FILE [--exclude GLOB ...] [--out-dir DIR]
        Builds (unless it exists) a reproducible .tar.gz of SOURCE and prints JSON:
        id, archive, files, selection ("git" or "tree"), commit, requirements_sha256.

    release_archive.py inspect ROOT MODULE[:NAME] ...
        For each dotted MODULE under ROOT, prints JSON: the module's file (null when there is
        none) and whether it binds NAME at top level (an assignment, def, class or import).

The release id is a hash of the shipped paths, their executable bits and contents: the same
content always maps to the same id, so re-running a deploy of an unchanged project changes
nothing. The archive is a pure function of the same data (sorted names, fixed mtime, root
owner, normalised modes, no gzip timestamp), so its bytes do not depend on the checkout.
"""

import argparse
import ast
import fnmatch
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ID_LENGTH = 12
# 2000-01-01: any fixed value keeps the archive reproducible; the host unpacks with --touch so
# collectstatic's modified-time comparison still sees each release's files as new.
FIXED_MTIME = 946684800
# What a project directory outside a git work tree carries that never belongs in a release.
JUNK_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    "node_modules",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}
JUNK_TOP_DIRS = {"var"}
JUNK_FILES = ("*.pyc", "*.pyo", ".env", ".DS_Store", "*.sqlite3")


def git(source: Path, *args: str) -> subprocess.CompletedProcess:
    # The controller's own git on a path the inventory names: S603/S607 guard against untrusted input.
    return subprocess.run(  # noqa: S603
        ["git", "-C", str(source), *args],  # noqa: S607
        capture_output=True,
        check=False,
    )


def in_git_work_tree(source: Path) -> bool:
    """True when git decides what ships: SOURCE is inside a work tree and not itself ignored.

    An ignored directory (a copy under .cache/, say) would list nothing, so it counts as a
    plain tree.
    """
    try:
        inside = git(source, "rev-parse", "--is-inside-work-tree")
    except FileNotFoundError:
        return False
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        return False
    return git(source, "check-ignore", "-q", str(source)).returncode != 0


def git_files(source: Path) -> list[str]:
    listed = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed.returncode != 0:
        sys.exit(f"git ls-files failed in {source}: {listed.stderr.decode(errors='replace')}")
    names = [os.fsdecode(n) for n in listed.stdout.split(b"\0") if n]
    # Tracked files deleted in the work tree and submodules (directories) do not ship.
    return [n for n in names if os.path.islink(source / n) or (source / n).is_file()]


def tree_files(source: Path) -> list[str]:
    names = []
    for top, dirs, files in os.walk(source):
        rel_top = Path(top).relative_to(source)
        dirs[:] = [
            d for d in dirs if d not in JUNK_DIRS and not (rel_top == Path(".") and d in JUNK_TOP_DIRS)
        ]
        for f in files:
            if not any(fnmatch.fnmatch(f, pattern) for pattern in JUNK_FILES):
                names.append((rel_top / f).as_posix())
        # os.walk lists symlinks to directories as directories; they ship as links.
        names.extend((rel_top / d).as_posix() for d in dirs if (Path(top) / d).is_symlink())
    return names


def excluded(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(name, p.rstrip("/") + "/*") for p in patterns)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entries(source: Path, names: list[str]) -> list[tuple[str, str, int, str]]:
    """(path, kind, mode, digest-or-link-target) for every file, link and parent directory."""
    result = []
    dirs = set()
    for name in sorted(set(names)):
        path = source / name
        parent = Path(name).parent
        while parent != Path("."):
            dirs.add(parent.as_posix())
            parent = parent.parent
        if path.is_symlink():
            result.append((name, "link", 0o777, os.readlink(path)))
        else:
            mode = 0o755 if os.stat(path).st_mode & 0o111 else 0o644
            result.append((name, "file", mode, file_digest(path)))
    result.extend((d, "dir", 0o755, "") for d in dirs)
    return sorted(result)


def release_id(items: list[tuple[str, str, int, str]]) -> str:
    digest = hashlib.sha256()
    for name, kind, mode, data in items:
        digest.update(f"{kind}\0{name}\0{mode:o}\0{data}\n".encode())
    return digest.hexdigest()[:ID_LENGTH]


def write_archive(source: Path, items, target: Path) -> None:
    """Write the archive next to TARGET and rename it into place, so a reader never sees half."""
    fd, tmp_name = tempfile.mkstemp(prefix=".building-", dir=target.parent)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar,
        ):
            for name, kind, mode, data in items:
                info = tarfile.TarInfo(name)
                info.mtime = FIXED_MTIME
                info.mode = mode
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == "link":
                    info.type = tarfile.SYMTYPE
                    info.linkname = data
                    tar.addfile(info)
                else:
                    content = (source / name).read_bytes()
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, target)
    except BaseException:
        os.unlink(tmp_name)
        raise


def git_commit(source: Path) -> str:
    head = git(source, "rev-parse", "HEAD")
    if head.returncode != 0:
        return ""
    commit = head.stdout.decode().strip()
    dirty = git(source, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    return commit + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def default_out_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "onebox" / "releases"


def archive(args) -> dict:
    source = Path(args.source).resolve()
    if not source.is_dir():
        sys.exit(f"{source} is not a directory")
    use_git = in_git_work_tree(source)
    names = git_files(source) if use_git else tree_files(source)
    names = [n for n in names if not excluded(n, args.exclude)]
    if not names:
        sys.exit(f"nothing to ship from {source} (every file is ignored or excluded)")
    requirements = source / args.requirements
    items = entries(source, names)
    rid = release_id(items)
    out_dir = Path(args.out_dir) if args.out_dir else default_out_dir()
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = out_dir / f"{rid}.tar.gz"
    if not target.exists():
        write_archive(source, items, target)
    return {
        "id": rid,
        "archive": str(target),
        "files": sum(1 for item in items if item[1] != "dir"),
        "selection": "git" if use_git else "tree",
        "commit": git_commit(source) if use_git else "",
        "requirements_sha256": file_digest(requirements),
    }


def binds(body: list[ast.stmt], name: str) -> bool:
    """Whether top-level statements (including those under if/try/with) bind NAME."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)):
                    return True
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    return True
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [handler.body for handler in getattr(node, "handlers", [])]
            if any(binds(block, name) for block in blocks):
                return True
    return False


def inspect(args) -> list[dict]:
    root = Path(args.root)
    results = []
    for spec in args.modules:
        module, _, name = spec.partition(":")
        parts = module.split(".")
        candidates = [root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")]
        found = next((c for c in candidates if c.is_file()), None)
        result = {"spec": spec, "file": str(found) if found else None, "defines": None, "error": ""}
        if found and name:
            try:
                tree = ast.parse(found.read_bytes(), filename=str(found))
            except (SyntaxError, ValueError) as exc:
                result["error"] = f"{found.name} does not parse: {exc}"
            else:
                result["defines"] = binds(tree.body, name)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("archive")
    build.add_argument("source")
    build.add_argument("--requirements", required=True)
    build.add_argument("--exclude", action="append", default=[])
    build.add_argument("--out-dir")
    look = sub.add_parser("inspect")
    look.add_argument("root")
    look.add_argument("modules", nargs="+")
    args = parser.parse_args()
    result = archive(args) if args.command == "archive" else inspect(args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
