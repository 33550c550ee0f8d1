"""A stranger's view of the test host: a client in a network namespace of the host's own, joined to
it by a veth pair, with an IPv4 and an IPv6 address. Its traffic enters the host through the host's
input chain like anyone's from the internet, on both protocols (Docker's network here has no IPv6),
and a per-client limit it trips (SSH, nginx) touches nobody else.

The namespace, its veth pair and the listeners are test scaffolding, made by the tests that use them.
"""

import json
import shlex
from contextlib import contextmanager

NAMESPACE = "onebox-outside"
HOST4, CLIENT4 = "192.0.2.1", "192.0.2.2"
HOST6, CLIENT6 = "fd0b::1", "fd0b::2"
# A second client address, for tests that trip a per-client limit on purpose.
OTHER4 = "192.0.2.3"

# Docker turns IPv6 off in a container and mounts /proc/sys read-only; a proc of our own, mounted
# for a moment, turns it on for the two ends of the veth pair only.
SETUP = f"""
set -eu
ipv6_on() {{
  d=$(mktemp -d); mount -t proc proc "$d"
  echo 0 >"$d/sys/net/ipv6/conf/$1/disable_ipv6"; umount "$d"; rmdir "$d"
}}
if ! ip netns list | grep -qw {NAMESPACE}; then
  ip netns add {NAMESPACE}
  ip link add ob-host type veth peer name ob-out
  ip link set ob-out netns {NAMESPACE}
fi
ipv6_on ob-host
ip addr replace {HOST4}/24 dev ob-host
ip -6 addr replace {HOST6}/64 dev ob-host nodad
ip link set ob-host up
ip netns exec {NAMESPACE} sh -eu -c '
  d=$(mktemp -d); mount -t proc proc "$d"
  echo 0 >"$d/sys/net/ipv6/conf/ob-out/disable_ipv6"; umount "$d"; rmdir "$d"
  ip addr replace {CLIENT4}/24 dev ob-out
  ip addr replace {OTHER4}/24 dev ob-out
  ip -6 addr replace {CLIENT6}/64 dev ob-out nodad
  ip link set ob-out up
  ip link set lo up'
"""

# Run in the namespace: tries each (address, port), prints {"address port": "open"|"refused"|"timeout"}.
PROBE = """
import json, socket, sys
result = {}
for target in json.loads(sys.argv[1]):
    address, port = target
    try:
        socket.create_connection((address, port), timeout=float(sys.argv[2])).close()
        result[f"{address} {port}"] = "open"
    except ConnectionRefusedError:
        result[f"{address} {port}"] = "refused"
    except OSError:
        result[f"{address} {port}"] = "timeout"
print(json.dumps(result))
"""


# Run in the namespace: opens `count` TCP connections at once from one address, prints how many
# the host accepted within the timeout.
BURST = """
import json, select, socket, sys, time
source, address = sys.argv[1], sys.argv[2]
port, count, timeout = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
pending = []
for _ in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.setblocking(False)
    s.connect_ex((address, port))
    pending.append(s)
accepted, deadline = 0, time.monotonic() + timeout
while pending and time.monotonic() < deadline:
    _, writable, _ = select.select([], pending, [], max(0.0, deadline - time.monotonic()))
    for s in writable:
        pending.remove(s)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            accepted += 1
        s.close()
print(json.dumps({"accepted": accepted, "unanswered": len(pending)}))
"""


def ensure(host):
    """Make the namespace and its link to the host (again, after a restart); idempotent."""
    with host.sudo():
        host.check_output("bash -c %s", SETUP)


def run(host, command: str, **kwargs):
    """A shell command in the namespace, as a client out there runs it."""
    ensure(host)
    with host.sudo():
        return host.run("ip netns exec %s sh -c %s", NAMESPACE, command, **kwargs)


def probe(host, ports, addresses=(HOST4, HOST6), timeout=2.0) -> dict:
    """What a stranger finds at each port of each of the host's addresses."""
    targets = [[address, port] for address in addresses for port in ports]
    out = run(host, f"python3 -c {shlex.quote(PROBE)} {shlex.quote(json.dumps(targets))} {timeout}")
    assert out.rc == 0, out.stderr
    found = json.loads(out.stdout)
    pairs = ((key.rsplit(" ", 1), state) for key, state in found.items())
    return {(address, int(port)): state for (address, port), state in pairs}


def burst(host, port, count, source=OTHER4, address=HOST4, timeout=3.0) -> dict:
    """`count` new connections at once from one client address: how many the host accepted."""
    args = " ".join(shlex.quote(str(a)) for a in (source, address, port, count, timeout))
    out = run(host, f"python3 -c {shlex.quote(BURST)} {args}")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def ssh_refusal(host, address, user) -> str:
    """What sshd tells a stranger with no key: its last line names the methods it would still take
    ("Permission denied (publickey)." on a host that takes keys only)."""
    out = run(
        host,
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        f"-o ConnectTimeout=10 {user}@{address} true",
    )
    assert out.rc != 0, out.stdout
    return out.stderr


@contextmanager
def listeners(host, ports):
    """Something listening on each port, on every address (IPv4 and IPv6): a closed port then proves
    the firewall, not an empty port. Each answers HTTP on loopback, which the caller can check."""
    units = [f"onebox-test-listener-{port}" for port in ports]
    with host.sudo():
        host.check_output("mkdir -p /run/onebox-test-empty")
        for unit, port in zip(units, ports, strict=True):
            host.run("systemctl stop %s", unit)
            host.check_output(
                "systemd-run --unit %s --collect python3 -m http.server %s --bind :: "
                "--directory /run/onebox-test-empty",
                unit,
                str(port),
            )
        for port in ports:
            wait = f"until curl -sf -o /dev/null http://127.0.0.1:{port}/; do sleep 0.2; done"
            host.check_output("timeout 20 sh -c %s", wait)
    try:
        yield
    finally:
        with host.sudo():
            for unit in units:
                host.run("systemctl stop %s", unit)
