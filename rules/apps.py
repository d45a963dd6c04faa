from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "rules"
    verbose_name = "Business rules and value sets"

    def ready(self) -> None:
        from publication.providers import register_named_content
        from rules.content import RulesContent, ValueSetsContent

        register_named_content(RulesContent())
        register_named_content(ValueSetsContent())
