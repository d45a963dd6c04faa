"""DSC → CSCA issuance (DGCG check 3, tightened by the CSCA validity policy)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509

from gateway.pki.certs import ReadCertificate
from gateway.pki.errors import Reason, Rejected
from verifier.certificates import issued_by


def find_issuing_csca(
    dsc: ReadCertificate | x509.Certificate,
    cscas: Iterable[x509.Certificate],
    *,
    country: str,
    at: dt.datetime,
    require_valid_csca: bool = True,
) -> x509.Certificate:
    """Return the onboarded CSCA that issued ``dsc``.

    DGCG checks only that some CSCA's key verifies the DSC signature; we also require the
    issuer name to match (RFC 5280 §6.1.3 (a)(4)) and, by policy, the CSCA to be within its
    validity period at upload time.
    """
    # A ReadCertificate carries the signed bytes as received (its view may be a re-encoding).
    certificate, tbs = (dsc.certificate, dsc.tbs) if isinstance(dsc, ReadCertificate) else (dsc, None)
    candidates = list(cscas)
    if not candidates:
        raise Rejected(Reason.CSCA_LIST_EMPTY, f"CSCA list for country {country} is empty")
    for csca in candidates:
        if not issued_by(certificate, csca, tbs=tbs):
            continue
        if require_valid_csca and not (csca.not_valid_before_utc <= at <= csca.not_valid_after_utc):
            continue
        return csca
    raise Rejected(Reason.NOT_SIGNED_BY_CSCA, "Could not verify uploaded certificate was signed by valid CSCA.")
