from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "federation"
    verbose_name = "Federation"

    def ready(self) -> None:
        from countries.peer_sources import register_trusted_sources_query
        from federation.observability import PeersCollector, PeersCurrent
        from federation.trusted import trusted_peer_ids
        from gateway.observability.health import register_check
        from gateway.observability.metrics import register_collector

        register_trusted_sources_query(trusted_peer_ids)
        register_check(PeersCurrent)
        register_collector(PeersCollector)
