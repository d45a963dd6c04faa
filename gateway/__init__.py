"""The trust gateway. The Celery app lives in gateway.celery (loaded by trustlist.apps)."""
