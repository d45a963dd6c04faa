"""Federation with TNG- and DGCG-compatible peers (issue 20): their trust-list answers, each entry
verified as their own clients verify it (CSCA and UPLOAD against the peer's trust anchor, each DSC
against its country's verified UPLOAD certificates and CSCAs), applied as a difference; an entry
that does not verify refuses the list and nothing is stored; an offline export of either form is
read the same way. The answers come from a real second instance of this gateway (its own TNG and
DGCG endpoints' renderings), and once over mutual TLS from the nginx stack, which stands in for
TNG as the issue asks."""

from __future__ import annotations

import base64
import json

import pytest
from django.utils import timezone

from federation import api_peers, services, statements
from federation.models import Peer, PeerKind
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki import cms
from gateway.pki.errors import Reason, Rejected
from tests.federation_support import PeerInstance, exported_lists
from trustlist.models import SignerCertificate
from verifier.reasons import PublicationReason, VerificationError

pytestmark = pytest.mark.django_db(transaction=True)
PEER_ID = "tng-peer.example"


@pytest.fixture(scope="module")
def peer_template(tmp_path_factory) -> PeerInstance:
    return PeerInstance.create(tmp_path_factory.mktemp("api-peer"), PEER_ID, ("XP", "XQ", "XR"))


@pytest.fixture(scope="module")
def exports(peer_template) -> dict[str, bytes]:
    return {kind: exported_lists(peer_template, kind) for kind in (PeerKind.TNG, PeerKind.DGCG)}


def _add(pki, kind: str, anchor_pem: str, endpoint: str = "https://tng-peer.example/") -> Peer:
    anchor = statements.trust_anchor_der(anchor_pem)
    signature = statements.sign(statements.statement(PEER_ID, kind, endpoint, anchor), pki.ta.certificate, pki.ta.key)
    return services.add_peer(
        gateway_id=PEER_ID,
        name="API peer",
        kind=kind,
        endpoint=endpoint,
        trust_anchor_pem=anchor_pem,
        signature=signature,
        interval_seconds=300,
        actor="test",
        at=timezone.now(),
    )


@pytest.mark.parametrize("kind", [PeerKind.TNG, PeerKind.DGCG])
def test_a_peers_lists_are_verified_entry_by_entry_and_applied_as_a_difference(
    pki, peer_template, exports, kind, client
):
    configured = _add(pki, kind, peer_template.trust_anchor.read_text())
    lists = api_peers.offline_lists(kind, exports[kind])
    outcome = services.sync_peer(configured.pk, now=timezone.now(), lists=lists)
    assert outcome is not None
    rows = list(SignerCertificate.objects.filter(source_gateway=PEER_ID).order_by("country"))
    assert [row.country for row in rows] == ["XQ", "XR"]
    for row in rows:
        # The original signature is kept: the upload's CMS, by an UPLOAD certificate of the peer.
        message = cms.verify_detached(base64.b64decode(row.signature), bytes(row.raw_data))
        assert row.uploader_thumbprint
        assert message.signer_der
        assert row.source_sequence is None  # these lists carry no sequence

    # Again, unchanged: nothing written. Then one DSC gone from the peer's answer: removed here.
    again = services.sync_peer(configured.pk, now=timezone.now(), lists=lists)
    assert again is not None
    assert again.changed == []
    value = json.loads(exports[kind])
    name = "certificate" if kind == PeerKind.TNG else "DSC"
    dsc_group = "group" if kind == PeerKind.TNG else "certificateType"
    dropped = next(item for item in value[name] if item[dsc_group] == "DSC" and item["country"] == "XQ")
    value[name].remove(dropped)
    smaller = api_peers.offline_lists(kind, json.dumps(value).encode())
    assert services.sync_peer(configured.pk, now=timezone.now(), lists=smaller).removed == 1
    assert [row.country for row in SignerCertificate.objects.filter(source_gateway=PEER_ID)] == ["XR"]


def _swap(export: bytes, kind: str, change) -> dict[str, bytes]:
    value = json.loads(export)
    change(value)
    return api_peers.offline_lists(kind, json.dumps(value).encode())


@pytest.mark.parametrize("kind", [PeerKind.TNG, PeerKind.DGCG])
def test_an_entry_its_signatures_do_not_vouch_for_refuses_the_list_and_nothing_is_stored(
    pki, peer_template, exports, kind
):
    configured = _add(pki, kind, peer_template.trust_anchor.read_text())
    dsc_key, name, group = (
        ("certificate", "certificate", "group") if kind == PeerKind.TNG else ("rawData", "DSC", "certificateType")
    )

    def swap_dscs(value):  # XQ's upload signature over XR's certificate
        dscs = [item for item in (value[name]) if item[group] == "DSC"]
        dscs[0][dsc_key], dscs[1][dsc_key] = dscs[1][dsc_key], dscs[0][dsc_key]

    def forge_csca(value):  # a CSCA's trust-anchor signature replaced by this gateway's anchor's
        key = "certificate" if kind == PeerKind.TNG else "CSCA"
        csca = next(item for item in value[key] if item[group] == "CSCA")
        der = base64.b64decode(csca[dsc_key if kind == PeerKind.TNG else "rawData"])
        csca["signature"] = base64.b64encode(cms.sign(der, pki.ta.certificate, pki.ta.key, detached=True)).decode()

    for change in (swap_dscs, forge_csca):
        with pytest.raises(Rejected) as caught:
            services.sync_peer(configured.pk, now=timezone.now(), lists=_swap(exports[kind], kind, change))
        assert caught.value.reason is Reason.PEER_ENTRY_INVALID
        assert not SignerCertificate.objects.filter(source_gateway=PEER_ID).exists()
        Peer.objects.filter(pk=configured.pk).update(next_attempt_at=None)
    refused = AuditEvent.objects.filter(action=Action.FEDERATION_SYNC, outcome=Outcome.REJECTED)
    assert [event.reason for event in refused] == [Reason.PEER_ENTRY_INVALID] * 2
    with pytest.raises(Rejected) as caught:
        api_peers.offline_lists(kind, b'{"nothing": []}')
    assert caught.value.reason is Reason.PEER_LIST_INVALID


@pytest.mark.postgres
@pytest.mark.e2e
def test_a_tng_compatible_peer_over_mutual_tls(pki, open_stack):
    """This gateway's own /trustList/certificate behind nginx stands in for TNG."""
    configured = _add(
        pki, PeerKind.TNG, open_stack.trust_anchor.read_text(), endpoint=f"https://{open_stack.host}:{open_stack.port}/"
    )
    tls = open_stack.context(open_stack.country("XA").auth)
    outcome = services.sync_peer(configured.pk, now=timezone.now(), tls=tls)
    assert outcome is not None
    imported = set(SignerCertificate.objects.filter(source_gateway=PEER_ID).values_list("country", flat=True))
    assert imported >= {"XB", "XC"}  # the stack's demo uploads their DSCs
    # Without this gateway's client certificate, the peer's nginx refuses the handshake's request.
    Peer.objects.filter(pk=configured.pk).update(next_attempt_at=None)
    with pytest.raises(VerificationError) as caught:
        services.sync_peer(configured.pk, now=timezone.now(), tls=open_stack.context())
    assert caught.value.reason is PublicationReason.HTTP_ERROR
    assert "401" in caught.value.detail
