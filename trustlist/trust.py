"""Which certificates the gateway trusts: one rule for the API's renderings and the published lists.

An issuer (a CSCA, or for TNG's DESC group a DECA) is trusted while it is onboarded, active and its
trust-anchor signature verifies now. A signer certificate is trusted while it is not revoked and
the issuer that signed it (checked at upload) is trusted, so suspending or removing a CSCA
withdraws its DSCs everywhere at once: ``/trustList`` (full and delta), ``/trustList/certificate``
and the next publication (``trustlist.content`` applies the same rule to the rows it reads in bulk,
through :func:`trusted_cscas`; the published lists carry no DESC).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from countries import peer_sources, trust_anchor
from countries.models import CertificateType, Status, TrustedParty
from trustlist.models import Group, SignerCertificate, SignerCertificateQuerySet

# The onboarded type that issues each group's certificates (TNG: DECA issues DESC); CSCA otherwise.
ISSUER_TYPE = {Group.DESC: CertificateType.DECA}


def issuer_type(group: str) -> str:
    return ISSUER_TYPE.get(group, CertificateType.CSCA)


def trusted_issuers(parties: Iterable[TrustedParty], certificate_type: str) -> list[TrustedParty]:
    """The active ``certificate_type`` rows among ``parties`` whose trust-anchor signature verifies
    now, in their order. Callers narrow their query to such rows; the rule is applied here all the same."""
    return trust_anchor.verified(
        party for party in parties if party.status == Status.ACTIVE and party.certificate_type == certificate_type
    )


def trusted_cscas(parties: Iterable[TrustedParty]) -> list[TrustedParty]:
    return trusted_issuers(parties, CertificateType.CSCA)


def trusted_issuer_thumbprints() -> dict[str, set[str]]:
    """Thumbprints of this gateway's trusted issuers, by issuer type."""
    parties = (
        TrustedParty.objects.active().local().filter(certificate_type__in=[CertificateType.CSCA, CertificateType.DECA])
    )
    rows = list(parties)
    return {
        kind: {p.thumbprint for p in trusted_issuers(rows, kind)}
        for kind in (CertificateType.CSCA, CertificateType.DECA)
    }


def is_trusted(row: SignerCertificate, issuers: dict[str, set[str]]) -> bool:
    """The rule for one row, given :func:`trusted_issuer_thumbprints`."""
    return row.revoked_at is None and row.issuer_thumbprint in issuers[issuer_type(row.group)]


def trusted_dscs(*, with_federation: bool = False) -> SignerCertificateQuerySet:
    """Signer certificates that are not revoked: local ones issued by a trusted issuer; with
    ``with_federation``, also those imported from a peer trusted now (``countries.peer_sources``:
    configured and signed by the trust anchor), on that peer's signed word (its own checks of
    their issuers; docs/federation.md)."""
    issuers = trusted_issuer_thumbprints()
    local = Q(source_gateway="") & (
        (~Q(group=Group.DESC) & Q(issuer_thumbprint__in=issuers[CertificateType.CSCA]))
        | Q(group=Group.DESC, issuer_thumbprint__in=issuers[CertificateType.DECA])
    )
    if not with_federation:
        return SignerCertificate.objects.trusted().filter(local)
    federated = Q(source_gateway__in=sorted(peer_sources.trusted_sources()))
    return SignerCertificate.objects.trusted().filter(local | federated)
