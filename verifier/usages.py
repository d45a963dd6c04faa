"""The DCC types a DSC may sign, and the rule that reads them from its extended key usage.

The intersection rule (hcert spec App. A.4, CWA ``checkOidsIntersect``): the DCC OIDs in the
DSC's extended key usage -- the spec form ``1.3.6.1.4.1.1847.2021.1.{1,2,3}`` and the widespread
``1.3.6.1.4.1.0.1847.2021.1.{1,2,3}`` -- limit the types it may sign; an EKU that names none (no
EKU, an empty one, or only non-DCC purposes) allows every type. The trust store applies it to
verify, and the compact entries of deltas restore a trust-list entry's ``usages`` with it.
"""

from __future__ import annotations

from collections.abc import Iterable

TEST, VACCINATION, RECOVERY = "test", "vaccination", "recovery"
ALL_USAGES = frozenset({TEST, VACCINATION, RECOVERY})
# The order in which a trust-list entry lists its usages.
USAGE_ORDER = (TEST, VACCINATION, RECOVERY)
DCC_USAGE_OIDS = {
    "1.3.6.1.4.1.1847.2021.1.1": TEST,
    "1.3.6.1.4.1.1847.2021.1.2": VACCINATION,
    "1.3.6.1.4.1.1847.2021.1.3": RECOVERY,
    "1.3.6.1.4.1.0.1847.2021.1.1": TEST,
    "1.3.6.1.4.1.0.1847.2021.1.2": VACCINATION,
    "1.3.6.1.4.1.0.1847.2021.1.3": RECOVERY,
}
# The DCC's certificate type (the key of its entry array) -> the usage a DSC needs to sign it.
PAYLOAD_TYPE_USAGE = {"t": TEST, "v": VACCINATION, "r": RECOVERY}


def usages_from_oids(oids: Iterable[str] | None) -> frozenset[str]:
    """Intersection rule: the DCC usages the EKU's OIDs name, or all of them when it names none
    (``None``: the certificate has no EKU)."""
    if oids is None:
        return ALL_USAGES
    named = frozenset(DCC_USAGE_OIDS[oid] for oid in oids if oid in DCC_USAGE_OIDS)
    return named or ALL_USAGES


def ordered(usages: Iterable[str]) -> list[str]:
    """Usages in the order a trust-list entry lists them."""
    given = set(usages)
    return [usage for usage in USAGE_ORDER if usage in given]
