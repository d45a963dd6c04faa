"""Small assertions shared by the API tests."""

from __future__ import annotations

from gateway.audit.models import AuditEvent
from trustlist.models import SignerCertificate


def assert_problem(response, status: int, code: str, reason: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"code", "problem", "sendValue", "details"}
    assert all(isinstance(body[key], str) for key in ("code", "problem", "sendValue", "details"))
    assert body["code"] == code, body
    if reason is not None:
        assert body["reason"] == reason, body
    return body


def upload(client, country, cms_b64: bytes, **headers):
    return client.post("/signerCertificate", cms_b64, content_type="application/cms", **country.headers(), **headers)


def revoke(client, country, cms_b64: bytes, *, alias: bool = False):
    if alias:
        return client.post("/signerCertificate/delete", cms_b64, content_type="application/cms", **country.headers())
    return client.delete("/signerCertificate", cms_b64, content_type="application/cms", **country.headers())


def counts() -> tuple[int, int]:
    return SignerCertificate.objects.count(), AuditEvent.objects.count()


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-id").first()
