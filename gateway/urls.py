from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gateway import landing
from gateway.audit import views as audit_views
from gateway.observability import health, metrics
from issuers.api import views as issuers_views
from migration import api as migration_views
from publication.views import published
from references.api import views as reference_views
from revocation.api import views as revocation_views
from rules.api import views as rules_views
from trustlist.api import views

handler404 = "gateway.problems.handler404"
handler500 = "gateway.problems.handler500"

urlpatterns = [
    path("", landing.landing, name="landing"),
    path("signerCertificate", views.SignerCertificateView.as_view(), name="signer-certificate"),
    path(
        "signerCertificate/delete", views.SignerCertificateDeleteAliasView.as_view(), name="signer-certificate-delete"
    ),
    path("trustedCertificate", views.TrustedCertificateView.as_view(), name="trusted-certificate"),
    path(
        "trustedCertificate/delete",
        views.TrustedCertificateDeleteAliasView.as_view(),
        name="trusted-certificate-delete",
    ),
    path("trustList", views.TrustListView.as_view(), name="trust-list"),
    path("trustList/certificate", views.TngTrustListView.as_view(), name="trust-list-certificate"),
    path("trustList/issuers", issuers_views.TrustedIssuersView.as_view(), name="trust-list-issuers"),
    # Before trustList/<type>, which would take "references" for a certificate type.
    path("trustList/references", reference_views.TrustedReferenceListView.as_view(), name="trust-list-references"),
    path("trustList/<str:certificate_type>", views.TrustListByTypeView.as_view(), name="trust-list-type"),
    path(
        "trustList/<str:certificate_type>/<str:country>",
        views.TrustListByTypeAndCountryView.as_view(),
        name="trust-list-type-country",
    ),
    path("countrylist", views.CountryListView.as_view(), name="country-list"),
    path("trust/reference", reference_views.TrustedReferenceView.as_view(), name="trust-reference"),
    path(
        "trust/reference/<str:uuid>",
        reference_views.TrustedReferenceItemView.as_view(),
        name="trust-reference-item",
    ),
    path("rules", rules_views.RulesView.as_view(), name="rules"),
    path("rules/delete", rules_views.RulesDeleteAliasView.as_view(), name="rules-delete"),
    path("rules/<str:country>", rules_views.RulesOfCountryView.as_view(), name="rules-country"),
    path("valuesets", rules_views.ValueSetsView.as_view(), name="valuesets"),
    path("valuesets/<str:value_set_id>", rules_views.ValueSetView.as_view(), name="valueset"),
    path("revocation-list", revocation_views.RevocationListView.as_view(), name="revocation-list"),
    path("revocation-list/delete", revocation_views.RevocationDeleteAliasView.as_view(), name="revocation-list-delete"),
    path("revocation-list/<str:batch_id>", revocation_views.RevocationBatchView.as_view(), name="revocation-batch"),
    path("cms-migration", migration_views.CmsMigrationView.as_view(), name="cms-migration"),
    path("publication/<path:path>", published, name="published"),
    path("audit/checkpoint", audit_views.latest_checkpoint, name="audit-checkpoint"),
    path("audit/checkpoints", audit_views.checkpoints, name="audit-checkpoints"),
    path("audit/proof/inclusion", audit_views.inclusion, name="audit-inclusion"),
    path("audit/proof/consistency", audit_views.consistency, name="audit-consistency"),
    path("audit/leaves", audit_views.leaves, name="audit-leaves"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # Operations; nginx lets only the operator's networks reach them (docs/operations.md).
    path("health/", health.GatewayHealthView.as_view(), name="health"),
    path("health/live", health.live, name="health-live"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
