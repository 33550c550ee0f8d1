"""The bundled app's HTTP API through gunicorn's unix socket, as the web server's user: the same
requests for every scenario whose host runs the app (the django scenario, the app host of
postgresql-replica)."""

import json
import shlex

APP = "portfolio"


def request(
    host,
    path,
    *,
    method="GET",
    data=None,
    user="www-data",
    socket=f"/run/{APP}/gunicorn.sock",
    host_header="onebox.test",
    https=True,
    extra=(),
):
    """curl through the unix socket as `user`; returns (status, body)."""
    args = [
        "curl",
        "-sS",
        "--max-time",
        "20",
        "--unix-socket",
        socket,
        "-X",
        method,
        "-o",
        "-",
        "-w",
        r"\n%{http_code}",
    ]
    if https:
        args += ["-H", "X-Forwarded-Proto: https"]
    if data is not None:
        args += ["-H", "Content-Type: application/json", "--data", json.dumps(data)]
    args += list(extra)
    args.append(f"http://{host_header}{path}")
    # No arguments to host.run: testinfra leaves the command (and curl's % signs) as it is.
    result = host.run(f"runuser -u {user} -- " + shlex.join(args))
    assert result.rc == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def post_holding(host, symbol, quantity="3", cost_basis="42.00"):
    """A holding of the seeded demo portfolio, posted through the API; (status, body)."""
    status, body = request(host, "/api/portfolios/")
    assert status == 200, body
    demo = [p for p in json.loads(body) if p["name"] == "Demo portfolio"]
    assert demo, f"seed_demo did not run: {body}"
    return request(
        host,
        "/api/holdings/",
        method="POST",
        data={"portfolio": demo[0]["id"], "symbol": symbol, "quantity": quantity, "cost_basis": cost_basis},
    )
