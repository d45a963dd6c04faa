"""The keys the admin tests read: people of every role, XA's and XB's DSCs uploaded over the API,
a publisher key and a first publication. Shared by the Django-client tests
(tests/test_admin_personas.py) and the browser tests (tests/test_admin_browser.py)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass

from django.contrib.auth.models import Group

from countries.models import Membership, MembershipRole
from countries.permissions import OPERATORS
from gateway.audit.roles import AUDITORS
from gateway.pki.certs import summary, thumbprint
from gateway.pki.issuance import Issued
from publication import service
from tests.factory import CountryPki, Pki
from tests.helpers import upload
from tests.publishing import install_publisher, publish_root
from trustlist.models import SignerCertificate
from verifier.descriptors import chain_path
from verifier.entries import thumbprint_of

PASSWORD = "correct horse battery"


@dataclass
class World:
    xa: CountryPki
    xb: CountryPki
    old: SignerCertificate  # XA's, all three usages, uploaded over the API, first published in first_sequence
    old_issued: Issued
    foreign: SignerCertificate  # XB's
    first_sequence: int


def people(django_user_model: type) -> dict[str, object]:
    """alice: admin of XA; audrey: auditor; otto: the first operator, a superuser as the README
    makes him; carol: admin of XC, which has no DSC."""
    alice = django_user_model.objects.create_user("alice", password=PASSWORD, is_staff=True)
    Membership.objects.create(user=alice, country="XA", role=MembershipRole.ADMIN)
    carol = django_user_model.objects.create_user("carol", password=PASSWORD, is_staff=True)
    Membership.objects.create(user=carol, country="XC", role=MembershipRole.ADMIN)
    audrey = django_user_model.objects.create_user("audrey", password=PASSWORD, is_staff=True)
    audrey.groups.add(Group.objects.get(name=AUDITORS))
    otto = django_user_model.objects.create_superuser("otto", password=PASSWORD)
    return {"alice": alice, "carol": carol, "audrey": audrey, "otto": otto}


def personas(django_user_model: type) -> dict[str, object]:
    """One person of each role, with the password "x": alice (admin of XA), bob (admin of XB),
    vera (viewer of XA), audrey (auditor) and otto (operator, by his group: no superuser)."""

    def person(name: str, **memberships: str) -> object:
        user = django_user_model.objects.create_user(name, password="x", is_staff=True)
        for country, role in memberships.items():
            Membership.objects.create(user=user, country=country, role=role)
        return user

    operators, _ = Group.objects.get_or_create(name=OPERATORS)
    found = {
        "alice": person("alice", XA=MembershipRole.ADMIN),
        "bob": person("bob", XB=MembershipRole.ADMIN),
        "vera": person("vera", XA=MembershipRole.VIEWER),
        "audrey": person("audrey"),
        "otto": person("otto"),
    }
    found["audrey"].groups.add(Group.objects.get(name=AUDITORS))
    found["otto"].groups.add(operators)
    return found


def seed(pki: Pki, client: object, now: dt.datetime) -> World:
    xa, xb = pki.country("XA"), pki.country("XB")
    # No extended key usage: it may sign every DCC type (the intersection rule).
    old = xa.dsc(at=now, organization="Ministry of Health", extended_key_usage=None)
    assert upload(client, xa, xa.cms_b64(old.der)).status_code == 201
    foreign = xb.dsc(at=now, days=200)  # inside the dashboard's twelve months, for those who see XB
    assert upload(client, xb, xb.cms_b64(foreign.der)).status_code == 201
    # The key only now: with eager tasks (the browser tests) the uploads would publish themselves.
    install_publisher(pki, at=now)
    first = service.publish(at=now)
    assert first is not None
    return World(
        xa=xa,
        xb=xb,
        old=SignerCertificate.objects.get(thumbprint=thumbprint(old.der)),
        old_issued=old,
        foreign=SignerCertificate.objects.get(thumbprint=thumbprint(foreign.der)),
        first_sequence=first.id,
    )


def deltas_touching(thumb: str, first: int, last: int, *, change: str = "upsert") -> list[int]:
    """The sequences from ``first`` to ``last`` whose published delta uploads (``upsert``) or
    withdraws (``remove``) the certificate ``thumb``: read from the files verifiers download, not
    from the database the admin reads, so a test can hold the admin's sequences to them."""
    found = []
    for sequence in range(first, last + 1):
        path = publish_root() / chain_path(sequence, "delta")
        if not path.exists():  # a sequence that reset to full lists has no delta
            continue
        listed = json.loads(path.read_bytes()).get(change, [])
        if any((thumbprint_of(item) if change == "upsert" else item) == thumb for item in listed):
            found.append(sequence)
    return found


def serial_of(issued: Issued) -> str:
    return summary(issued.der).serial


def page_text(response: object) -> str:
    """The page as a person reads it: scripts and styles dropped, tags dropped, white space collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))
