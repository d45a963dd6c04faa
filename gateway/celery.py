"""Celery application. Without REDIS_URL the settings make every task run eagerly."""

import os

from celery import Celery
from celery.signals import setup_logging
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

app = Celery("gateway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Binds the request id carried in each task's headers, so a worker's log lines name the request
# whose change they are publishing (gateway/observability/logs.py).
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def _log_as_django_does(**_: object) -> None:
    """Keep the worker's and beat's logs in the gateway's structured format instead of
    Celery's own (connecting this signal stops Celery from replacing the root logger)."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
