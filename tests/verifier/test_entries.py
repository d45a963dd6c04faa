"""Compact entries (verifier/entries.py): a delta or span leaves out what the certificate gives,
and the verifier restores exactly the full list's entry. The gateway's own rules (gateway.pki.certs)
are the reference: every real DSC of the DCC test data, and generated ones for each EKU case."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.pki import certs, issuance
from tests.factory import NOW
from tests.verifier.test_conformance import FILES
from verifier.entries import DERIVABLE, EntryError, compact, compact_body, derived, expand, restore_body

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

TLS_CLIENT = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.2")
ZERO_VARIANT_TEST = x509.ObjectIdentifier("1.3.6.1.4.1.0.1847.2021.1.1")


def gateway_entry(der: bytes, *, kind: str = "DSC") -> dict:
    """The trust-list entry the gateway writes for a certificate (trustlist/content.py),
    from the gateway's own functions."""
    certificate = certs.load_der_certificate(der)
    return {
        "type": kind,
        "country": "XA",
        "kid": certs.kid(der),
        "thumbprint": certs.thumbprint(der),
        "certificate": base64.b64encode(der).decode("ascii"),
        "notBefore": certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notAfter": certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "usages": list(certs.dcc_usages(certificate)) if kind == "DSC" else [],
        "domain": "DCC",
        "group": kind,
        "issuer": "ab" * 32 if kind == "DSC" else "",
    }


def _real_dscs() -> list[bytes]:
    found = {}
    for path in FILES:
        try:
            context = json.loads(Path(path).read_text()).get("TESTCTX") or {}
            der = base64.b64decode(context.get("CERTIFICATE") or "", validate=True)
            certs.load_der_certificate(der)
        except Exception:  # a case without a (parseable) certificate tests something else
            continue
        found[der] = True
    return list(found)


REAL = _real_dscs()


def _generated() -> dict[str, tuple[bytes, str]]:
    csca = issuance.issue(issuance.name("XA CSCA", "XA"), at=NOW, ca=True)

    def dsc(eku: list[x509.ObjectIdentifier] | None, **kwargs) -> bytes:
        issued = issuance.issue(issuance.name("XA DSC", "XA"), at=NOW, issuer=csca, extended_key_usage=eku, **kwargs)
        return issued.certificate.public_bytes(Encoding.DER)

    return {
        "no EKU": (dsc(None), "DSC"),
        "vaccination": (dsc([issuance.EKU_VACCINATION]), "DSC"),
        "all three, listed backwards": (
            dsc([issuance.EKU_RECOVERY, issuance.EKU_VACCINATION, issuance.EKU_TEST]),
            "DSC",
        ),
        "the 0 variant": (dsc([ZERO_VARIANT_TEST]), "DSC"),
        "only a non-DCC purpose": (dsc([TLS_CLIENT]), "DSC"),
        "after 2049 (GeneralizedTime)": (
            dsc(
                [issuance.EKU_TEST],
                not_before=dt.datetime(1950, 1, 1, tzinfo=dt.UTC),
                not_after=dt.datetime(2050, 1, 2, tzinfo=dt.UTC),
            ),
            "DSC",
        ),
        "CSCA": (csca.certificate.public_bytes(Encoding.DER), "CSCA"),
    }


GENERATED = _generated()


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_a_generated_entry_leaves_out_everything_its_certificate_gives(name):
    der, kind = GENERATED[name]
    entry = gateway_entry(der, kind=kind)
    compacted = compact(entry)
    assert set(compacted) == set(entry) - set(DERIVABLE)
    assert expand(compacted) == entry


def test_every_real_dsc_of_the_test_data_round_trips_exactly():
    assert len(REAL) >= 20, "the DCC test cases are in tests/data/dcc"
    fully = 0
    for der in REAL:
        entry = gateway_entry(der)
        compacted = compact(entry)
        assert expand(compacted) == entry, certs.thumbprint(der)
        # what is left out is exactly what the verifier's rule gives, and what the gateway wrote
        given = derived(entry)
        assert all(given[key] == entry[key] for key in set(entry) - set(compacted))
        fully += set(compacted) == set(entry) - set(DERIVABLE)
    assert fully >= len(REAL) - 3, "nearly every real DSC leaves out all six fields"


def _edited(der: bytes, edit) -> bytes:
    """A certificate with its TBS edited by asn1crypto (its signature no longer verifies, which
    does not matter here) and re-encoded."""
    from asn1crypto import x509 as asn1_x509

    certificate = asn1_x509.Certificate.load(der)
    edit(certificate["tbs_certificate"])
    return certificate.dump(force=True)


def _validity(choice: str):
    from asn1crypto import x509 as asn1_x509

    def edit(tbs):
        start = tbs["validity"]["not_before"].native
        tbs["validity"]["not_before"] = asn1_x509.Time(name=choice, value=start)

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda tbs: tbs.__setitem__("serial_number", -5), id="a negative serial"),
        pytest.param(lambda tbs: tbs.__setitem__("serial_number", 1 << 160), id="a serial over 20 octets"),
        pytest.param(_validity("general_time"), id="GeneralizedTime before 2050"),
    ],
)
def test_validity_and_usages_are_left_out_only_for_a_strictly_conforming_certificate(edit):
    """Strict parsers (Go's, for one) refuse what cryptography reads with a warning: a verifier
    built on one must still restore every entry, so such a certificate keeps those fields."""
    der = _edited(GENERATED["vaccination"][0], edit)
    entry = gateway_entry(der)
    compacted = compact(entry)
    assert {"notBefore", "notAfter", "usages"} <= set(compacted)
    assert not {"thumbprint", "kid", "group"} & set(compacted), "no parsing needed for those"
    assert expand(compacted) == entry


def test_values_the_certificate_does_not_give_are_kept():
    der, _ = GENERATED["vaccination"]
    entry = {**gateway_entry(der), "kid": "custom-TNG-kid", "usages": ["test"], "group": "DSC-RSA"}
    compacted = compact(entry)
    assert {key: compacted[key] for key in ("kid", "usages", "group")} == {
        "kid": "custom-TNG-kid",
        "usages": ["test"],
        "group": "DSC-RSA",
    }
    assert "thumbprint" not in compacted
    assert expand(compacted) == entry


def test_an_entry_whose_certificate_cannot_give_what_it_leaves_out_is_refused():
    der, _ = GENERATED["vaccination"]
    entry = compact(gateway_entry(der))
    with pytest.raises(EntryError):
        expand({**entry, "certificate": base64.b64encode(b"not a certificate").decode()})
    with pytest.raises(EntryError):
        expand({key: value for key, value in entry.items() if key != "certificate"})
    junk = b"\x30\x03\x02\x01\x01"
    unparseable = {
        **gateway_entry(der),
        "certificate": base64.b64encode(junk).decode(),
        "thumbprint": certs.thumbprint(junk),
        "kid": certs.kid(junk),
    }
    kept = compact(unparseable)
    assert {"notBefore", "notAfter", "usages"} <= set(kept), "nothing is left out that cannot be restored"
    assert "thumbprint" not in kept, "the hash of any bytes can be"
    assert expand(kept) == unparseable


def test_bodies_leave_out_empty_lists_and_restore_them():
    der, _ = GENERATED["no EKU"]
    entry = gateway_entry(der)
    body = compact_body([entry], [], [])
    assert set(body) == {"upsert"}
    assert restore_body(dict(body)) == {"upsert": [entry], "remove": [], "revoked": []}
    assert compact_body([], [], []) == {}
    with pytest.raises(EntryError):
        restore_body({"remove": "not a list"})
