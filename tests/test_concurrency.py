"""Races between uploads: the database, not the order of checks, decides who wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.outbox.services import trust_state_version
from tests.factory import Pki
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db(transaction=True)


def _race(requests: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def run(index: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            barrier.wait()
            response = Client().post("/signerCertificate", body, content_type="application/cms", **headers)
            statuses[index] = response.status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, body, headers)) for i, (body, headers) in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.fixture
def country(pki: Pki):
    return pki.country("XA")


def test_same_dsc_uploaded_concurrently_is_stored_once(country, frozen):
    body = country.cms_b64(country.dsc().der)
    statuses = _race([(body, country.headers())] * 6)
    assert sorted(statuses) == [201] + [409] * 5
    assert SignerCertificate.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.UPLOAD, outcome=Outcome.SUCCESS).count() == 1
    assert AuditEvent.objects.filter(action=Action.UPLOAD, outcome=Outcome.REJECTED).count() == 5


def test_distinct_dscs_uploaded_concurrently_all_succeed_and_version_counts_each(country, frozen):
    before = trust_state_version()
    bodies = [country.cms_b64(country.dsc().der) for _ in range(8)]
    statuses = _race([(body, country.headers()) for body in bodies])
    assert statuses == [201] * 8
    assert SignerCertificate.objects.count() == 8
    assert trust_state_version() == before + 8
