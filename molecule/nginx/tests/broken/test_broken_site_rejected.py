"""After the side effect tried to apply a site with a directive nginx rejects."""

from conftest import DOMAIN

STATE = "/var/tmp/onebox-test"
SITE_FILE = "/etc/nginx/sites-available/portfolio.conf"


def test_site_file_on_disk_is_the_good_one(host):
    with host.sudo():
        before = host.file(f"{STATE}/site.sha256").content_string.strip()
    assert host.file(SITE_FILE).sha256sum == before
    assert "onebox_broken_directive" not in host.file(SITE_FILE).content_string


def test_no_backup_files_are_left_behind(host):
    assert host.check_output("ls -A /etc/nginx/sites-available").split() == ["default", "portfolio.conf"]


def test_whole_tree_still_passes(host):
    with host.sudo():
        assert host.run("nginx -t").rc == 0


def test_running_nginx_was_never_reloaded(host):
    """A reload replaces every worker; the same workers mean nginx never saw the broken file."""
    with host.sudo():
        before = host.file(f"{STATE}/workers").content_string.split()
        now = host.check_output('pgrep -P "$(cat /run/nginx.pid)" | sort').split()
    assert before
    assert now == before


def test_site_still_serves(web):
    response = web.get(f"https://{DOMAIN}/")
    assert response.status == 200
    assert '<div id="root"></div>' in response.body
