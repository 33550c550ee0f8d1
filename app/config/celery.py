"""The Celery app: `python -m celery -A config worker` (or beat) in the app's directory.

Every setting is a CELERY_* name in config/settings.py; tasks live in each app's tasks.py.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
