"""Every change takes its row locks in one order: the audit log's head, then the trust state.

The load test through the stack (tests/test_stack_load.py) found uploads and revocations
deadlocking on PostgreSQL (a 500): an upload locked the audit head and then the trust state, a
revocation the trust state and then the audit head. Here the order is checked statement by
statement for each service that changes trust, which is deterministic where a race is not.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factory import NOW
from tests.helpers import revoke, upload
from trustlist import services
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db

AUDIT_HEAD = '"audit_auditloghead"'
TRUST_STATE = 'UPDATE "outbox_truststate"'


def _lock_order(queries: list[dict[str, str]]) -> list[str]:
    order = []
    for query in queries:
        sql = query["sql"]
        if AUDIT_HEAD in sql and "audit head" not in order:
            order.append("audit head")
        if TRUST_STATE in sql and "trust state" not in order:
            order.append("trust state")
    return order


def test_upload_locks_audit_head_then_trust_state(client, xa):
    with CaptureQueriesContext(connection) as captured:
        assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    assert _lock_order(captured.captured_queries) == ["audit head", "trust state"]


def test_revocation_locks_audit_head_then_trust_state(client, xa):
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    with CaptureQueriesContext(connection) as captured:
        assert revoke(client, xa, xa.cms_b64(dsc.der)).status_code == 204
    assert _lock_order(captured.captured_queries) == ["audit head", "trust state"]


def test_revocation_by_a_person_locks_audit_head_then_trust_state(client, xa):
    assert upload(client, xa, xa.cms_b64(xa.dsc().der)).status_code == 201
    row = SignerCertificate.objects.get()
    with CaptureQueriesContext(connection) as captured:
        services.revoke_by_person(row_id=row.pk, reason="test", actor="admin", at=NOW)
    assert _lock_order(captured.captured_queries) == ["audit head", "trust state"]


def test_onboarding_locks_audit_head_then_trust_state(pki, xa):
    with CaptureQueriesContext(connection) as captured:
        pki.country("XB")
    order = _lock_order(captured.captured_queries)
    assert order == ["audit head", "trust state"], order
