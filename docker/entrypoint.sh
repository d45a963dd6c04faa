#!/bin/sh
# web | worker | beat | manage ARGS...
set -eu
case "${1:-web}" in
  web)
    python manage.py migrate --no-input
    # gunicorn's workers sum their Prometheus counters here (gateway/gunicorn_config.py empties
    # it at start); only the web tier sets it, the worker and beat keep their own metrics.
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus}"
    # A unix socket that only nginx reaches (compose shares it through a volume).
    exec gunicorn gateway.wsgi:application --config python:gateway.gunicorn_config --bind "${GUNICORN_BIND:-unix:/run/gateway/gunicorn.sock}" \
      --umask 0o007 --limit-request-line 8190 --workers "${GUNICORN_WORKERS:-3}" ;;
  worker) exec celery -A gateway worker --loglevel "${LOG_LEVEL:-INFO}" ;;
  # The schedule file is no state worth a volume: without it beat runs each task once at start,
  # and every task is idempotent. /app is root-owned, so it cannot live there.
  beat) exec celery -A gateway beat --loglevel "${LOG_LEVEL:-INFO}" --schedule /tmp/celerybeat-schedule ;;
  manage) shift; exec python manage.py "$@" ;;
  *) exec "$@" ;;
esac
