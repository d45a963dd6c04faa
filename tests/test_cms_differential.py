"""Differential test of the upload API against OpenSSL as a differential oracle.

The corpus (tests/cms_corpus.py) holds CMS messages, valid and hostile, each with two
independently declared expectations: ``openssl_ok`` (what ``openssl cms -verify -noverify``
should say; checked, so a broken corpus item shows up) and ``policy_ok`` (whether the DSC and
the signer pass the gateway's policy: registered UPLOAD signer, one country, issued by the
country's CSCA, DER-only certificates, SHA-2, signed attributes, ...). The oracle:

    the gateway answers 201  <=>  OpenSSL accepts the CMS  and  policy_ok

Any other answer must be a 4xx problem report with a ``reason``, never a 5xx, and must store no
SignerCertificate row. tests/test_stack_hostile.py sends the same corpus through nginx.

The upload API runs the strict policy. The dgcg profile is tested at the parse level, on
``cms.parse_attached`` with ``PROFILES["dgcg"].cms``: issue 22's shapes are accepted exactly
when OpenSSL accepts them, with their findings, and every message OpenSSL refuses is still
refused.
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path

import pytest

from gateway.pki import cms, issuance
from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason, Rejected
from gateway.pki.issuance import Issued
from gateway.pki.policy import PROFILES
from tests.cms_corpus import CORPUS, CorpusContext, Item
from tests.factory import NOW, CountryPki, Pki
from tests.pki.test_cms import openssl_verify
from trustlist.models import SignerCertificate

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Parsed a serial number which wasn't positive:cryptography.utils.CryptographyDeprecationWarning"
    ),
]

DGCG = PROFILES["dgcg"].cms
STRICT = PROFILES["strict"].cms


class Ctx(CorpusContext):
    """The corpus against the in-process test client, at the frozen time NOW."""

    def __init__(self, pki: Pki, xa: CountryPki, tmp: Path, client: object) -> None:
        super().__init__(xa, NOW, tmp)
        self.pki = pki
        self.client = client

    def onboard(self, certificate: Issued) -> None:
        self.pki.onboard("XA", "UPLOAD", certificate)

    @functools.cache  # noqa: B019 - one context per test
    def foreign_upload(self) -> Issued:
        return self.pki.country("XB").upload

    def upload(self, cms_der: bytes):
        return self.client.post(  # type: ignore[attr-defined]
            "/signerCertificate", base64.b64encode(cms_der), content_type="application/cms", **self.xa.headers()
        )


class ParseCtx(CorpusContext):
    """The corpus for cms.parse_attached alone: nothing is onboarded, nothing is uploaded."""

    def onboard(self, certificate: Issued) -> None:
        pass  # the parse level does not ask who the signer is

    @functools.cache  # noqa: B019 - one context per test
    def foreign_upload(self) -> Issued:
        return issuance.issue(issuance.name("XB upload", "XB"), at=self.now)

    def upload(self, cms_der: bytes):
        raise AssertionError("the parse-level tests upload nothing")


@pytest.fixture(scope="module")
def parse_xa() -> CountryPki:
    return Pki.create().country("XA", onboard=False)


def _params(items: list[Item] = CORPUS) -> list:
    params = []
    for item in items:
        marks = list(item.marks)
        if item.bug:
            marks.append(pytest.mark.xfail(strict=True, reason=f"BUG {item.bug}"))
        params.append(pytest.param(item, id=item.label, marks=marks))
    return params


@pytest.mark.no_db
def test_corpus_is_large_and_labelled() -> None:
    labels = [item.label for item in CORPUS]
    assert len(labels) == len(set(labels)) >= 30
    assert sum(item.openssl_ok and item.policy_ok for item in CORPUS) >= 10
    assert sum(not item.openssl_ok for item in CORPUS) >= 10
    assert sum(item.openssl_ok and not item.policy_ok for item in CORPUS) >= 10
    relaxed = [item for item in CORPUS if item.dgcg_findings]
    assert sum(item.openssl_ok for item in relaxed) >= 10
    assert sum(not item.openssl_ok for item in relaxed) >= 5


@pytest.mark.django_db
@pytest.mark.parametrize("item", _params())
def test_gateway_agrees_with_openssl(item: Item, pki: Pki, xa: CountryPki, client, tmp_path: Path) -> None:
    client.raise_request_exception = False  # a view crash must surface as the 500 a client would get
    ctx = Ctx(pki, xa, tmp_path, client)
    message = item.build(ctx)

    verdict = openssl_verify(message, tmp_path)
    openssl_ok = verdict.returncode == 0
    assert openssl_ok == item.openssl_ok, f"corpus item misdeclared: openssl said {verdict.stderr!r}"

    before = SignerCertificate.objects.count()
    response = ctx.upload(message)
    after = SignerCertificate.objects.count()

    expected_201 = openssl_ok and item.policy_ok
    if expected_201:
        assert response.status_code == 201, response.content
        assert after == before + 1
        stored = SignerCertificate.objects.get(thumbprint=thumbprint(_payload(message)))
        assert stored.country == "XA"
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    problem = response.json()
    assert set(problem) >= {"code", "problem", "sendValue", "details", "reason"}
    assert problem["reason"] in Reason.__members__
    assert after == before, "a rejected upload stored a row"


def _payload(message: bytes) -> bytes:
    return cms.parse_attached(message).payload


# --- the dgcg profile, at the parse level ------------------------------------------------------


@pytest.mark.no_db
@pytest.mark.parametrize("item", _params([item for item in CORPUS if item.dgcg_findings is not None]))
def test_dgcg_policy_agrees_with_openssl(item: Item, parse_xa: CountryPki, tmp_path: Path) -> None:
    """Issue 22's shapes: dgcg accepts exactly what OpenSSL accepts, with the declared findings;
    strict refuses each relaxed shape by its first finding's reason."""
    message = item.build(ParseCtx(parse_xa, NOW, tmp_path))
    verdict = openssl_verify(message, tmp_path)
    assert (verdict.returncode == 0) == item.openssl_ok, f"corpus item misdeclared: openssl said {verdict.stderr!r}"

    if not item.openssl_ok:
        with pytest.raises(Rejected):
            cms.parse_attached(message, DGCG)
        return
    parsed = cms.parse_attached(message, DGCG)
    assert tuple(finding.reason for finding in parsed.findings) == item.dgcg_findings
    assert item.policy_ok == (not item.dgcg_findings), "a shape with findings is one strict refuses"
    if item.dgcg_findings:
        with pytest.raises(Rejected) as refused:
            cms.parse_attached(message, STRICT)
        assert refused.value.reason == item.dgcg_findings[0]
    else:
        assert cms.parse_attached(message, STRICT).findings == ()


@pytest.mark.no_db
@pytest.mark.parametrize("item", _params([item for item in CORPUS if not item.openssl_ok]))
def test_hostile_corpus_stays_refused_under_dgcg(item: Item, parse_xa: CountryPki, tmp_path: Path) -> None:
    """Relaxing the CMS policy lets through no message OpenSSL refuses: each is refused by name."""
    message = item.build(ParseCtx(parse_xa, NOW, tmp_path))
    assert openssl_verify(message, tmp_path).returncode != 0
    with pytest.raises(Rejected) as refused:
        cms.parse_attached(message, DGCG)
    assert refused.value.reason in Reason.__members__.values()
