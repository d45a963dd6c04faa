from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "gateway.outbox"
    label = "outbox"
    verbose_name = "Publication outbox"
