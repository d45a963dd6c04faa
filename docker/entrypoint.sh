#!/bin/sh
# web | worker | beat | manage ARGS...
set -eu
case "${1:-web}" in
  web)
    python manage.py migrate --no-input
    exec gunicorn gateway.wsgi:application --bind "${GUNICORN_BIND:-0.0.0.0:8000}" \
      --workers "${GUNICORN_WORKERS:-3}" --forwarded-allow-ips "${GATEWAY_TRUSTED_PROXIES:-127.0.0.1}" ;;
  worker) exec celery -A gateway worker --loglevel "${LOG_LEVEL:-INFO}" ;;
  beat) exec celery -A gateway beat --loglevel "${LOG_LEVEL:-INFO}" ;;
  manage) shift; exec python manage.py "$@" ;;
  *) exec "$@" ;;
esac
