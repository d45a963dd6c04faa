"""Operating the gateway: health checks, Prometheus metrics and structured logs."""
