"""GET /health/: is this process up and does its database answer?"""

import logging

from django.db import DEFAULT_DB_ALIAS, Error, connections
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

HEALTH_PATHS = frozenset({"/health/", "/health"})


class HealthCheckMiddleware:
    """Answers /health/ before any other middleware runs.

    Probes come from load balancers by IP and from gunicorn's socket without X-Forwarded-Proto,
    so they must never reach ALLOWED_HOSTS (request.get_host(), the kamal#992 trap) or the HTTPS
    redirect. Probed every second: no session, no model query, just the connection and SELECT 1.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info not in HEALTH_PATHS:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if database_answers():
            response = JsonResponse({"status": "ok", "database": "ok"})
        else:
            response = JsonResponse({"status": "error", "database": "unavailable"}, status=503)
        add_never_cache_headers(response)
        # CommonMiddleware, which would set it, never sees this response.
        response["Content-Length"] = len(response.content)
        return response


def database_answers() -> bool:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Error as exc:
        logger.warning("Health check: the database did not answer: %s", exc)
        return False
    return True
