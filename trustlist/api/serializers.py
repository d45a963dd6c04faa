"""Request shapes and, for the OpenAPI schema, the wire shapes of responses."""

from __future__ import annotations

from rest_framework import serializers

from gateway.api import ProblemReportSerializer

__all__ = [
    "ProblemReportSerializer",
    "TrustListEntrySerializer",
    "TrustedCertificateRequestSerializer",
    "TrustedCertificateTrustListSerializer",
]


class TrustListEntrySerializer(serializers.Serializer):
    kid = serializers.CharField()
    timestamp = serializers.CharField(help_text="yyyy-MM-ddTHH:mm:ssZ")
    country = serializers.CharField()
    certificateType = serializers.ChoiceField(["AUTHENTICATION", "UPLOAD", "CSCA", "DSC"])  # noqa: N815
    thumbprint = serializers.CharField()
    signature = serializers.CharField(allow_null=True)
    rawData = serializers.CharField(allow_null=True)  # noqa: N815


class TrustedCertificateTrustListSerializer(serializers.Serializer):
    certificate = serializers.CharField()
    signature = serializers.CharField()
    kid = serializers.CharField()
    group = serializers.CharField()
    country = serializers.CharField()
    properties = serializers.DictField(child=serializers.CharField(), allow_null=True)
    uuid = serializers.UUIDField()
    domain = serializers.CharField()
    version = serializers.IntegerField()
    sourceGateway = serializers.CharField(required=False)  # noqa: N815


class TrustedCertificateRequestSerializer(serializers.Serializer):
    cms = serializers.CharField(max_length=60000, trim_whitespace=False)
    # Not trimmed: a kid with whitespace is refused (INVALID_KID), not silently changed.
    kid = serializers.CharField(max_length=20, required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    group = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True)
    domain = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True)
    # TNG answers 500 to a missing or null `properties`; we treat it as empty.
    properties = serializers.DictField(child=serializers.CharField(max_length=2000), required=False, allow_null=True)
