"""The frontend role after one converge of the real frontend/: one release, precompressed."""

import json
import re

import pytest

BASE = "/srv/portfolio/frontend"
TEXT_EXTENSIONS = ("css", "html", "js", "json", "map", "mjs", "svg", "txt", "wasm", "webmanifest", "xml")


def live_frontends(host):
    """The frontend releases that went live, in order (the history the django and frontend roles share)."""
    lines = host.file("/srv/portfolio/history.jsonl").content_string.splitlines()
    entries = [json.loads(line) for line in lines if line]
    return [e["frontend"] for e in entries if e["status"] == "live"]


def release_id(host):
    return host.file(f"{BASE}/current").linked_to.rsplit("/", 1)[-1]


def test_current_points_at_the_only_release_in_the_history(host):
    current = host.file(f"{BASE}/current")
    assert current.is_symlink
    # Relative, so the tree can move as a whole.
    assert host.check_output("readlink %s", f"{BASE}/current") == f"releases/{release_id(host)}"
    assert live_frontends(host) == [release_id(host)]
    assert host.check_output("ls -A %s", f"{BASE}/releases").split() == [release_id(host)]


def test_release_id_is_the_hash_of_the_built_files(host):
    """Same build, same id: re-running the role ships nothing."""
    computed = host.check_output(
        "cd %s && find . -type f ! -name '*.gz' ! -name '*.br' -print0 | LC_ALL=C sort -z"
        " | xargs -0 sha256sum | sha256sum | cut -c1-16",
        f"{BASE}/releases/{release_id(host)}",
    )
    assert computed == release_id(host)


def test_release_serves_the_react_index(host):
    index = host.file(f"{BASE}/current/index.html").content_string
    assert '<div id="root"></div>' in index
    scripts = re.findall(r'src="/assets/(index-[\w-]+\.js)"', index)
    assert len(scripts) == 1, index
    assert host.file(f"{BASE}/current/assets/{scripts[0]}").is_file


def test_release_is_owned_by_root_and_readable_by_www_data(host):
    with host.sudo():
        owners = host.check_output("find %s/current/ -printf '%%u:%%g\\n' | sort -u", BASE)
        assert owners.split() == ["root:root"]
        writable = host.check_output("find %s/current/ -perm /022", BASE)
        assert writable == ""
        out = host.check_output("runuser -u www-data -- cat %s/current/index.html", BASE)
    assert '<div id="root">' in out


def text_files(host, directory):
    names = host.check_output("cd %s && find . -type f ! -name '*.gz' ! -name '*.br'", directory).split()
    return [n for n in names if n.rsplit(".", 1)[-1] in TEXT_EXTENSIONS]


def test_text_files_have_gzip_and_brotli_twins_that_decompress_to_the_original(host):
    directory = f"{BASE}/current"
    files = text_files(host, directory)
    assert any(f.endswith(".js") for f in files)
    assert any(f.endswith(".html") for f in files)
    for name in files:
        path = f"{directory}/{name}"
        assert host.run("gzip -t %s.gz", path).rc == 0, name
        assert host.run("gzip -dc %s.gz | cmp - %s", path, path).rc == 0, name
        assert host.run("brotli -dc %s.br | cmp - %s", path, path).rc == 0, name
    # The twins really are compressed at the strongest settings (a stored copy would pass cmp).
    js = next(f for f in files if f.endswith(".js"))
    sizes = host.check_output("stat -c %%s %s %s.gz %s.br", *[f"{directory}/{js}"] * 3).split()
    original, gz, br = (int(s) for s in sizes)
    assert br < gz < original / 2


def test_binary_files_are_not_precompressed(host):
    listing = host.check_output("find %s/current/ -name '*.png.gz' -o -name '*.woff2.br'", BASE)
    assert listing == ""


@pytest.mark.parametrize("suffix", ["", ".gz", ".br"])
def test_shared_assets_hold_the_release_assets(host, suffix):
    names = host.check_output("cd %s/current/assets && ls", BASE).split()
    originals = [n for n in names if not n.endswith((".gz", ".br"))]
    assert originals
    for name in originals:
        if suffix and name.rsplit(".", 1)[-1] not in TEXT_EXTENSIONS:
            continue
        shared = host.file(f"{BASE}/assets/{name}{suffix}")
        assert shared.is_file, name + suffix
        assert shared.sha256sum == host.file(f"{BASE}/current/assets/{name}{suffix}").sha256sum
