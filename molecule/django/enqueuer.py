"""Enqueue CSV imports through the app's gunicorn socket, one every half second, until told to
stop (a file) or for 10 minutes at most; each response goes to a JSON line. side_effect.yml runs it
on the test host while it deploys the code change; verify reads the lines."""

import http.client
import json
import os
import socket
import time
import uuid

SOCKET = "/run/portfolio/gunicorn.sock"
HOST = "onebox.test"
OUT = "/var/tmp/onebox-enqueued.jsonl"
STOP = "/var/tmp/onebox-enqueuer.stop"
CSV = b"symbol,quantity,cost_basis\nAAPL,1,150\nMSFT,2,600\n"


class UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(SOCKET)


def call(method, path, body, content_type):
    connection = UnixConnection("localhost", timeout=30)
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "Content-Type": content_type}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def enqueue():
    status, body = call(
        "POST",
        "/api/portfolios/",
        json.dumps({"name": f"deploy-{uuid.uuid4().hex[:12]}"}),
        "application/json",
    )
    if status != 201:
        return {"step": "portfolio", "status": status, "body": body.decode(errors="replace")[:300]}
    portfolio = json.loads(body)["id"]
    boundary = uuid.uuid4().hex
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="deploy.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + CSV
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, body = call(
        "POST", f"/api/portfolios/{portfolio}/import/", form, f"multipart/form-data; boundary={boundary}"
    )
    record = {"step": "import", "status": status, "portfolio": portfolio}
    if status == 202:
        record["id"] = json.loads(body)["id"]
    else:
        record["body"] = body.decode(errors="replace")[:300]
    return record


def main():
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not os.path.exists(STOP):
        started = time.time()
        try:
            record = enqueue()
        except OSError as error:
            record = {"step": "connect", "status": 0, "error": repr(error)}
        record["t"] = started
        with open(OUT, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        time.sleep(0.5)


if __name__ == "__main__":
    main()
