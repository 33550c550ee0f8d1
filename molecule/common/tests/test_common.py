"""The common role: what a freshly converged host must do, checked on the host itself."""

import pytest

APP = "portfolio"


@pytest.mark.parametrize("package", ["acl", "cron", "locales", "unattended-upgrades", "tzdata"])
def test_base_packages_installed(host, package):
    assert host.package(package).is_installed


def test_app_user_is_a_system_user_without_login(host):
    user = host.user(APP)
    assert user.exists
    assert user.group == APP
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000
    assert user.home == f"/srv/{APP}"


def test_cron_is_running(host):
    cron = host.service("cron")
    assert cron.is_enabled
    assert cron.is_running


def test_become_user_works_through_acl(host):
    """Ansible hands temporary files to an unprivileged user with setfacl."""
    with host.sudo():
        out = host.check_output(
            "f=$(mktemp) && setfacl -m u:%s:r $f && runuser -u %s -- cat $f && echo readable; rm -f $f",
            APP,
            APP,
        )
    assert out.strip() == "readable"


def test_timezone_and_locale(host):
    assert host.file("/etc/localtime").linked_to.endswith("/Etc/UTC")
    assert host.check_output("locale -a").lower().count("en_us.utf8") == 1
    assert "LANG=en_US.UTF-8" in host.file("/etc/default/locale").content_string
    # The generated locale really loads (a missing one makes setlocale raise).
    script = "import locale; locale.setlocale(locale.LC_ALL, ''); print(locale.getlocale()[1])"
    out = host.check_output("env -i LANG=en_US.UTF-8 python3 -c %s", script)
    assert out.strip() == "UTF-8"


def test_journald_limits_are_in_force(host):
    out = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=500M" in out
    # journald is running with the drop-in: it reports its limit in its status message.
    assert host.service("systemd-journald").is_running


def test_unattended_upgrades_take_only_security_origins(host):
    out = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    patterns = [line for line in out.splitlines() if "Origins-Pattern::" in line]
    assert patterns, out
    assert all("Debian-Security" in line for line in patterns), out
    assert host.check_output("apt-config dump APT::Periodic::Unattended-Upgrade").strip().endswith('"1";')
    dry = host.run("unattended-upgrade --dry-run -v")
    assert dry.rc == 0, dry.stderr


# Run on the host: whether unattended-upgrades' own origin matcher, with the host's configuration,
# allows a version of some package from Debian's security suite (always non-empty). Prints the
# first such package.
ALLOWED_FROM_SECURITY = """
import importlib.machinery, importlib.util, sys
import apt
loader = importlib.machinery.SourceFileLoader("uu", "/usr/bin/unattended-upgrade")
spec = importlib.util.spec_from_loader("uu", loader)
uu = importlib.util.module_from_spec(spec)
loader.exec_module(uu)
allowed = uu.get_allowed_origins()
for package in apt.Cache():
    for version in package.versions:
        for origin in version.origins:
            if origin.label == "Debian-Security" and uu.is_allowed_origin(origin, allowed):
                print(package.name, version.version, origin.archive)
                sys.exit(0)
sys.exit(1)
"""


def test_security_updates_arrive(host):
    """The image's apt sources lack the security suite (debootstrap writes only the main one): the
    role adds it, apt reads it, and unattended-upgrades would take packages from it."""
    codename = host.system_info.codename
    with host.sudo():
        listing = "apt-get indextargets --no-release-info --format %s"
        targets = host.check_output(listing, "$(RELEASE) $(TARGET_OF)")
        assert f"{codename}-security deb" in targets
        assert "l=Debian-Security" in host.check_output("apt-cache policy")
        found = host.run("python3 -c %s", ALLOWED_FROM_SECURITY)
        assert found.rc == 0, found.stdout + found.stderr
        print(f"\n[security] unattended-upgrades would take {found.stdout.strip()}")
        dry = host.run("unattended-upgrade --dry-run --debug")
    assert dry.rc == 0, dry.stderr
    allowed = next(
        line for line in (dry.stdout + dry.stderr).splitlines() if line.startswith("Allowed origins are:")
    )
    assert f"codename={codename}-security,label=Debian-Security" in allowed, allowed


def test_no_mail_server_runs(host):
    """cron recommends a mail server; with recommendations off none comes, and none listens on 25."""
    with host.sudo():
        assert not host.package("exim4-daemon-light").is_installed
        assert not host.socket("tcp://0.0.0.0:25").is_listening
        assert not host.socket("tcp://127.0.0.1:25").is_listening
