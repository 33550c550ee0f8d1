"""Requests made inside the test host, to its own nginx, by the names the site serves."""

import re
from dataclasses import dataclass

import pytest

DOMAIN = "onebox.test"
RESOLVE = f"--resolve {DOMAIN}:443:127.0.0.1 --resolve {DOMAIN}:80:127.0.0.1"
BODY = "/tmp/onebox-test-body"


@dataclass
class Response:
    status: int
    version: str
    headers: dict[str, list[str]]
    body: str

    def header(self, name):
        values = self.headers.get(name.lower(), [])
        assert len(values) == 1, f"{name}: {values}"
        return values[0]


class Web:
    def __init__(self, host):
        self.host = host

    def get(self, url, *options):
        """curl without following redirects; -k because the certificate is self-signed here."""
        opts = " ".join(options)
        out = self.host.run(f"curl -sS -k {RESOLVE} -D - -o {BODY} {opts} %s", url)
        assert out.rc == 0, f"curl {url}: rc {out.rc} {out.stderr}"
        lines = out.stdout.replace("\r\n", "\n").strip().split("\n")
        version, status = re.match(r"HTTP/([\d.]+) (\d{3})", lines[0]).groups()
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        body = self.host.run("cat %s", BODY).stdout_bytes.decode(errors="replace")
        return Response(int(status), version, headers, body)

    def curl_rc(self, url, *options):
        """curl's exit code and message, for requests that get no HTTP answer."""
        out = self.host.run(f"curl -sS -k {RESOLVE} -o /dev/null {' '.join(options)} %s", url)
        return out.rc, out.stderr


@pytest.fixture
def web(host):
    return Web(host)


def asset_names(index_html):
    """The hashed files an index.html loads."""
    names = re.findall(r'(?:src|href)="/assets/([^"]+)"', index_html)
    assert names, index_html
    return names
