"""What TNG's GET /trust/reference/{uuid} and GET /trustList/references answer: its
TrustedReferenceDto with the federation fields (``sourceGateway`` only for a federated entry, of
which there are none here), and ours, ``signature``: the base64 attached CMS its country's UPLOAD
key signed, whose payload is the reference as uploaded (``openssl cms -verify`` prints it)."""

from __future__ import annotations

from typing import Any

from references.models import TrustedReference


def render(row: TrustedReference) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "domain": row.domain,
        "version": row.version,
        "country": row.country,
        "type": row.reference_type,
        "url": row.url,
        "service": row.service,
        "thumbprint": row.thumbprint,
        "name": row.name,
        "sslPublicKey": row.ssl_public_key,
        "contentType": row.content_type,
        "signatureType": row.signature_type,
        "referenceVersion": row.reference_version,
        "signature": row.cms,
    }


def search(
    *,
    countries: list[str],
    domains: list[str],
    reference_types: list[str],
    signature_types: list[str],
    with_federation: bool,
) -> list[dict[str, Any]]:
    """The references that match, in upload order. ``with_federation`` adds nothing: this gateway
    imports no peer's references (docs/federation.md), so every reference is its own."""
    rows = TrustedReference.objects.matching(
        countries=countries, domains=domains, reference_types=reference_types, signature_types=signature_types
    )
    return [render(row) for row in rows]
