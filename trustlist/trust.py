"""Which certificates the gateway trusts: one rule for the API's renderings and the published lists.

A CSCA is trusted while it is onboarded, active and its trust-anchor signature verifies now. A DSC
is trusted while it is not revoked and the CSCA that issued it (checked at upload) is trusted, so
suspending or removing a CSCA withdraws its DSCs everywhere at once: ``/trustList``,
``/trustList/certificate`` and the next publication (``trustlist.content`` applies the
same rule to the rows it reads in bulk, through :func:`trusted_cscas`).
"""

from __future__ import annotations

from collections.abc import Iterable

from countries import trust_anchor
from countries.models import CertificateType, Status, TrustedParty
from trustlist.models import SignerCertificate, SignerCertificateQuerySet


def trusted_cscas(parties: Iterable[TrustedParty]) -> list[TrustedParty]:
    """The active CSCAs among ``parties`` whose trust-anchor signature verifies now, in their order.
    Callers narrow the query to active CSCAs; the rule is applied here all the same."""
    return trust_anchor.verified(
        party for party in parties if party.status == Status.ACTIVE and party.certificate_type == CertificateType.CSCA
    )


def trusted_dscs(*, with_federation: bool = False) -> SignerCertificateQuerySet:
    """Signer certificates that are not revoked and were issued by a trusted CSCA (local ones only,
    unless ``with_federation``: then CSCAs and signers imported from peer gateways count too)."""
    cscas = TrustedParty.objects.all()
    signers = SignerCertificate.objects.trusted()
    if not with_federation:
        cscas, signers = cscas.local(), signers.local()
    cscas = cscas.active().of_type(CertificateType.CSCA)
    return signers.issued_by([party.thumbprint for party in trusted_cscas(cscas)])
