"""Structured logs: one JSON object per line, with the request id bound by django-structlog.

Every record, ours and the libraries' (Django, Celery, gunicorn through the root logger),
goes through structlog's ProcessorFormatter, so a log shipper sees one format. The request id
is bound per request (``X-Request-ID`` from nginx when ``GATEWAY_TRUST_UPSTREAM_REQUEST_ID``),
travels in the Celery task headers (django-structlog's Celery receiver) and is bound again in
the worker, so a change can be followed from the upload into the task that publishes it.
"""

from __future__ import annotations

from typing import Any

import structlog

# Processors shared by structlog's own loggers and by records from the standard library.
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]


def logging_config(*, json_format: bool, level: str) -> dict[str, Any]:
    """The LOGGING dict for settings.py (JSON lines in production, readable in development)."""
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if json_format
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": _SHARED,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # One line per request already comes from django-structlog's middleware.
            "django.server": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
            # django-axes announces itself at every start, management commands included.
            "axes.apps": {"level": "WARNING"},
        },
    }


def configure_structlog() -> None:
    """Route structlog's loggers through the standard library (and so through LOGGING)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED[:-1],
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
