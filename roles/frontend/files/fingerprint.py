#!/usr/bin/env python3
"""The controller's fingerprint of what a frontend build reads, so an unchanged source is not built again.

    fingerprint.py DIR [--exclude NAME ...] [--salt TEXT ...]

Prints a hex SHA-256 over the relative paths, executable bits and contents of every file under DIR
(symbolic links by their target), skipping top-level entries named by --exclude (node_modules, the
build's own output), then every --salt (the build command, say). Standard library only.
"""

import argparse
import hashlib
import os
import sys
from pathlib import Path


def fingerprint(root: Path, exclude: list[str], salts: list[str]) -> str:
    digest = hashlib.sha256()
    for top, dirs, files in os.walk(root):
        rel_top = Path(top).relative_to(root)
        if rel_top == Path("."):
            dirs[:] = [d for d in dirs if d not in exclude]
            files = [f for f in files if f not in exclude]
        dirs.sort()
        for name in sorted(files) + sorted(d for d in dirs if (Path(top) / d).is_symlink()):
            path = Path(top) / name
            rel = (rel_top / name).as_posix()
            if path.is_symlink():
                digest.update(f"link\0{rel}\0{os.readlink(path)}\n".encode())
                continue
            mode = "x" if os.stat(path).st_mode & 0o111 else "-"
            digest.update(f"file\0{rel}\0{mode}\0".encode())
            with path.open("rb") as f:
                for block in iter(lambda f=f: f.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\n")
    for salt in salts:
        digest.update(f"salt\0{salt}\n".encode())
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--salt", action="append", default=[])
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        print(f"{root} is not a directory", file=sys.stderr)
        return 2
    print(fingerprint(root, args.exclude, args.salt))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
