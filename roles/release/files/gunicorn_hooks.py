"""The gunicorn settings onebox adds to every app's gunicorn (`onebox-release serve` passes this
file as --config): each worker says on stderr, which is the unit's journal, when it has loaded the
app, so a deploy waits for workers that can answer rather than for processes that exist."""

import sys


def post_worker_init(worker):
    print(f"onebox: worker {worker.pid} ready", file=sys.stderr, flush=True)
