"""Trusted references in the admin (issue 21, part 2), persona by persona: alice (admin of XA) and
vera (viewer of XA) see XA's references, read-only, with the payload XA's UPLOAD key signed and
their history from the audit log; bob (admin of XB) gets 404 for XA's; audrey (auditor) and otto
(operator) see every country's. Nobody adds, changes or deletes one here."""

from __future__ import annotations

import pytest

from countries.permissions import Do, can, countries_for
from references.models import TrustedReference
from tests import admin_world
from tests.conftest import otp_login
from tests.test_references_api import post_reference, reference

pytestmark = pytest.mark.django_db
REFERENCES = "/admin/references/trustedreference/"


@pytest.fixture
def people(django_user_model):
    return admin_world.personas(django_user_model)


@pytest.fixture
def references(client, xa, xb) -> dict[str, TrustedReference]:
    """XA's reference, updated once (version 2), and XB's, uploaded through the API."""
    response = post_reference(client, xa, reference(name="XA verification"))
    assert response.status_code == 201
    update = reference(uuid=response["ETag"], name="XA verification service", url="https://v2.xa.example/")
    assert post_reference(client, xa, update).status_code == 201
    assert post_reference(client, xb, reference("XB", name="XB FHIR", type="FHIR")).status_code == 201
    return {row.country: row for row in TrustedReference.objects.all()}


def as_(client, user):
    otp_login(client, user)
    return client


@pytest.mark.parametrize(
    ("name", "sees_xa", "countries"),
    [
        ("alice", True, ["XA"]),
        ("bob", False, ["XB"]),
        ("vera", True, ["XA"]),
        ("audrey", True, None),
        ("otto", True, None),
    ],
)
def test_who_may_see_xas_references(people, name, sees_xa, countries):
    user = people[name]
    assert can(user, Do.VIEW_REFERENCES, "XA") is sees_xa
    assert countries_for(user, Do.VIEW_REFERENCES) == countries


@pytest.mark.parametrize("name", ["alice", "vera"])
def test_a_countrys_people_see_its_references_read_only(client, people, references, name):
    own, foreign = references["XA"], references["XB"]
    as_(client, people[name])
    listing = client.get(REFERENCES).content.decode()
    assert "XA verification service" in listing
    assert "https://v2.xa.example/" in listing
    assert "XB FHIR" not in listing
    page = client.get(f"{REFERENCES}{own.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert own.uuid in text
    assert "XA upload" in text  # who signed it
    assert "&quot;url&quot;: &quot;https://v2.xa.example/&quot;" in text  # the signed payload, escaped
    assert 'name="_save"' not in text  # nothing to save
    history = client.get(f"{REFERENCES}{own.pk}/history/").content.decode()
    assert "Trusted reference uploaded" in history
    assert "Trusted reference updated" in history
    assert client.get(f"{REFERENCES}{foreign.pk}/change/").status_code == 404
    assert client.get(f"{REFERENCES}{foreign.pk}/history/").status_code == 404


def test_another_countrys_references_do_not_exist_for_a_country_admin(client, people, references):
    as_(client, people["bob"])
    listing = client.get(REFERENCES).content.decode()
    assert "XB FHIR" in listing
    assert "XA verification" not in listing
    assert client.get(f"{REFERENCES}{references['XA'].pk}/change/").status_code == 404


@pytest.mark.parametrize("name", ["audrey", "otto"])
def test_auditors_and_operators_see_every_reference(client, people, references, name):
    as_(client, people[name])
    listing = client.get(REFERENCES).content.decode()
    assert "XA verification service" in listing
    assert "XB FHIR" in listing
    assert client.get(f"{REFERENCES}{references['XB'].pk}/change/").status_code == 200
    assert "FHIR" in client.get(f"{REFERENCES}?reference_type__exact=FHIR").content.decode()
    assert "XA verification" not in client.get(f"{REFERENCES}?country__exact=XB").content.decode()


@pytest.mark.parametrize("name", ["alice", "audrey", "otto"])
def test_nobody_adds_changes_or_deletes_a_reference_here(client, people, references, name):
    own = references["XA"]
    as_(client, people[name])
    assert client.get(f"{REFERENCES}add/").status_code == 403
    before = TrustedReference.objects.get(pk=own.pk).name
    response = client.post(f"{REFERENCES}{own.pk}/change/", {"name": "changed"})
    assert response.status_code == 403
    assert client.post(f"{REFERENCES}{own.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TrustedReference.objects.get(pk=own.pk).name == before


def test_people_without_a_role_see_no_references(client, django_user_model, references):
    stranger = django_user_model.objects.create_user("stranger", password="x", is_staff=True)
    as_(client, stranger)
    assert client.get(REFERENCES).status_code == 403
    assert b"Trusted references" not in client.get("/admin/").content
