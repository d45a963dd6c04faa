from django.apps import AppConfig


class PublicationConfig(AppConfig):
    name = "publication"
    verbose_name = "Publication for verifiers"

    def ready(self) -> None:
        import gateway.celery  # noqa: F401 - configure the Celery app before any task is queued
        from gateway.outbox.signals import change_committed
        from publication import tasks

        # Looked up at each call, so that it can be replaced (benchmarks seed without publishing).
        change_committed.connect(lambda **_: tasks.request_publication(), weak=False, dispatch_uid="publish-on-change")
