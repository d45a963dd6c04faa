"""The wire shape of ``GET /trustList/issuers``, for the OpenAPI schema (DGCG's and TNG's
TrustedIssuerDto)."""

from __future__ import annotations

from rest_framework import serializers

from issuers.models import IssuerType


class TrustedIssuerSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="an http(s) URL (type HTTP) or a DID (type DID)")
    type = serializers.ChoiceField(IssuerType.values)
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2 or a virtual country")
    thumbprint = serializers.CharField(allow_null=True, help_text="SHA-256 (hex) of the issuer's TLS certificate")
    sslPublicKey = serializers.CharField(allow_null=True)  # noqa: N815 - DGCG's field name
    keyStorageType = serializers.CharField(allow_null=True, help_text="e.g. JWKS")  # noqa: N815
    signature = serializers.CharField(
        help_text="base64 detached CMS by the trust anchor over `country;name;url;type;` (DGCG) "
        "or `country;name;url;type` (TNG)"
    )
    timestamp = serializers.CharField(help_text="yyyy-MM-ddTHH:mm:ssZ")
    name = serializers.CharField()
    uuid = serializers.UUIDField()
    domain = serializers.CharField()
    sourceGateway = serializers.CharField(  # noqa: N815
        required=False, help_text="the peer gateway it was imported from (withFederation=true only)"
    )
