from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "gateway.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from gateway.audit.roles import ensure_auditor_group

        post_migrate.connect(
            lambda sender, **kwargs: ensure_auditor_group() if sender is self else None,
            weak=False,
            dispatch_uid="audit-auditor-group",
        )
