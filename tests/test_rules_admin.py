"""Business rules and value sets in the admin (issue 18, its people), persona by persona: alice
(admin of XA) uploads a rule made offline and deletes it, bob (admin of XB), vera (viewer of XA),
audrey (auditor) and otto (operator). Another country's rules answer 404; every refusal is shown
by its reason and recorded; a rule's page shows its descriptions, its Logic and the validity
timeline of its versions. Time is frozen at tests.factory.NOW (the ``xa`` fixture)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from countries.permissions import Do, can, countries_for
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki.certs import thumbprint
from rules.admin import ValidationRuleAdmin
from rules.models import ValidationRule, ValueSet
from tests import admin_world
from tests.conftest import otp_login
from tests.factory import NOW
from tests.test_rules_api import delete_rule, post_rule, rule_for

pytestmark = pytest.mark.django_db

RULES = "/admin/rules/validationrule/"
VALUESETS = "/admin/rules/valueset/"
VALUESETS_FILE = Path(__file__).parent / "data" / "rules" / "business-rules" / "valuesets" / "valueSets.json"
TWO_LANGUAGES = [
    {"lang": "en", "desc": "At most one v-event."},
    {"lang": "de", "desc": "Höchstens ein v-Ereignis."},
]


@pytest.fixture
def people(django_user_model):
    return admin_world.personas(django_user_model)


@pytest.fixture
def rules(client, xa, xb) -> dict[str, ValidationRule]:
    """VR-XA-0000 and VR-XB-0000, version 1.0.0 each, uploaded by the countries' backends (API)."""
    for country in (xa, xb):
        assert post_rule(client, country, rule_for(country.code)).status_code == 201
    return {row.country: row for row in ValidationRule.objects.all()}


def as_(client, user):
    otp_login(client, user)
    return client


def signed(country, rule: dict) -> str:
    """The CMS a country makes offline over a rule, as base64 text (what it pastes)."""
    return country.cms_b64(json.dumps(rule).encode()).decode()


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-leaf_index").first()


def listed(client, url: str = RULES) -> list:
    return list(client.get(url).context["cl"].result_list)


def test_the_permission_function_decides_rules_and_value_sets(people):
    alice, bob, vera, audrey, otto = (people[n] for n in ("alice", "bob", "vera", "audrey", "otto"))
    assert can(alice, Do.UPLOAD_RULE, "XA")
    assert can(alice, Do.DELETE_RULE, "XA")
    assert not can(alice, Do.UPLOAD_RULE, "XB")
    assert not can(alice, Do.DELETE_RULE, "XB")
    assert not can(alice, Do.VIEW_RULES, "XB")
    assert countries_for(bob, Do.DELETE_RULE) == ["XB"]
    assert can(vera, Do.VIEW_RULES, "XA")
    assert not can(vera, Do.UPLOAD_RULE, "XA")
    assert not can(vera, Do.DELETE_RULE, "XA")
    assert countries_for(audrey, Do.VIEW_RULES) is None  # auditors read every country's rules ...
    assert countries_for(audrey, Do.UPLOAD_RULE) == []  # ... and change nothing
    assert not can(audrey, Do.DELETE_RULE, "XA")
    assert not can(audrey, Do.IMPORT_VALUESETS)
    assert countries_for(otto, Do.VIEW_RULES) is None
    assert not can(otto, Do.UPLOAD_RULE, "XA")  # rules are the countries'
    assert not can(otto, Do.DELETE_RULE, "XA")
    assert can(otto, Do.IMPORT_VALUESETS)
    assert not any(can(person, Do.IMPORT_VALUESETS) for person in (alice, bob, vera))
    assert all(can(person, Do.VIEW_VALUESETS) for person in people.values())


# --- a country admin -------------------------------------------------------------------------------------


def test_a_country_admin_uploads_a_rule_made_offline(client, people, xa):
    as_(client, people["alice"])
    form = client.get(f"{RULES}upload/")
    text = admin_world.page_text(form)
    assert "Signed upload (pasted)" in text
    assert "openssl cms -sign" in text  # how to make it where the UPLOAD key is kept
    assert form.context["form"].fields["country"].choices == [("XA", "XA")]
    response = client.post(f"{RULES}upload/", {"country": "XA", "cms": signed(xa, rule_for("XA"))})
    row = ValidationRule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{RULES}{row.pk}/change/"
    assert (row.country, row.identifier, row.version) == ("XA", "VR-XA-0000", "1.0.0")
    assert row.uploader_thumbprint == thumbprint(xa.upload.der)
    event = last_event()
    assert (event.action, event.outcome, event.actor, event.country) == (
        Action.RULE_UPLOAD,
        Outcome.SUCCESS,
        "admin:alice",
        "XA",
    )
    # The same as a file, wrapped at 64 columns as base64 files are.
    text = signed(xa, rule_for("XA", days=4, Version="1.0.1"))
    wrapped = "\n".join(text[i : i + 64] for i in range(0, len(text), 64)).encode()
    response = client.post(f"{RULES}upload/", {"country": "XA", "cms_file": SimpleUploadedFile("rule.cms", wrapped)})
    assert response.status_code == 302
    assert sorted(ValidationRule.objects.values_list("version", flat=True)) == ["1.0.0", "1.0.1"]


@pytest.mark.parametrize(
    ("label", "paste", "reason"),
    [
        ("not base64", lambda xa, xb: "not a CMS!", "INVALID_BASE64"),
        ("signed by another country's key", lambda xa, xb: signed(xb, rule_for("XA")), "UPLOAD_CERT_UNKNOWN"),
        ("another country's rule", lambda xa, xb: signed(xa, rule_for("XB")), "RULE_COUNTRY"),
        ("too soon", lambda xa, xb: signed(xa, rule_for("XA", days=1)), "RULE_STARTS_TOO_SOON"),
    ],
)
def test_a_refused_upload_shows_its_reason_once_and_is_recorded(client, people, xa, xb, label, paste, reason):
    as_(client, people["alice"])
    response = client.post(f"{RULES}upload/", {"country": "XA", "cms": paste(xa, xb)})
    assert response.status_code == 200
    assert admin_world.page_text(response).count(f"Refused ({reason})") == 1
    assert not ValidationRule.objects.exists()
    event = last_event()
    assert (event.action, event.outcome, event.reason, event.actor, event.country) == (
        Action.RULE_UPLOAD,
        Outcome.REJECTED,
        reason,
        "admin:alice",
        "XA",
    )


def test_a_country_admin_cannot_upload_for_another_country(client, people, xa, xb):
    as_(client, people["alice"])
    response = client.post(f"{RULES}upload/", {"country": "XB", "cms": signed(xb, rule_for("XB"))})
    assert response.status_code == 200
    assert "country" in response.context["form"].errors  # XB is not hers to choose
    assert not ValidationRule.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.RULE_UPLOAD).exists()


def test_a_country_admin_deletes_every_version_after_confirming(client, people, xa, rules):
    assert post_rule(client, xa, rule_for("XA", days=5, Version="1.1.0")).status_code == 201
    first = rules["XA"]
    as_(client, people["alice"])
    assert b"delete-rule-link" in client.get(f"{RULES}{first.pk}/change/").content
    page = client.get(f"{RULES}{first.pk}/delete-rule/")
    assert "Delete every version of rule VR-XA-0000 (1.0.0, 1.1.0)?" in admin_world.page_text(page)
    unconfirmed = client.post(f"{RULES}{first.pk}/delete-rule/", {})
    assert unconfirmed.status_code == 200
    assert ValidationRule.objects.filter(identifier="VR-XA-0000").count() == 2
    done = client.post(f"{RULES}{first.pk}/delete-rule/", {"confirm": "on"})
    assert (done.status_code, done["Location"]) == (302, RULES)
    assert not ValidationRule.objects.filter(identifier="VR-XA-0000").exists()
    assert ValidationRule.objects.filter(identifier="VR-XB-0000").exists()
    event = last_event()
    assert (event.action, event.outcome, event.actor, event.country) == (
        Action.RULE_DELETE,
        Outcome.SUCCESS,
        "admin:alice",
        "XA",
    )
    assert event.details["versions"] == ["1.0.0", "1.1.0"]


def test_a_deletion_that_finds_nothing_is_refused_by_name_and_recorded(client, people, xa, rules, monkeypatch):
    # Another person (here the country's backend) deleted the rule after alice's page was read.
    stale = rules["XA"]
    assert delete_rule(client, xa, "VR-XA-0000").status_code == 204
    monkeypatch.setattr(ValidationRuleAdmin, "get_object", lambda self, request, object_id, from_field=None: stale)
    as_(client, people["alice"])
    response = client.post(f"{RULES}{stale.pk}/delete-rule/", {"confirm": "on"})
    assert response.status_code == 200
    assert admin_world.page_text(response).count("Refused (RULE_NOT_FOUND)") == 1
    event = last_event()
    assert (event.action, event.outcome, event.reason, event.actor) == (
        Action.RULE_DELETE,
        Outcome.REJECTED,
        "RULE_NOT_FOUND",
        "admin:alice",
    )


@pytest.mark.parametrize("name", ["alice", "vera"])
def test_another_countrys_rules_do_not_exist_for_a_countrys_people(client, people, xb, rules, name):
    as_(client, people[name])
    assert {row.country for row in listed(client)} == {"XA"}
    foreign = rules["XB"]
    for url in (
        f"{RULES}{foreign.pk}/change/",
        f"{RULES}{foreign.pk}/delete-rule/",
        f"{RULES}{foreign.pk}/history/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"There is nothing here that your account may see" in response.content
    assert client.post(f"{RULES}{foreign.pk}/delete-rule/", {"confirm": "on"}).status_code == 404
    assert ValidationRule.objects.filter(pk=foreign.pk).exists()
    assert not AuditEvent.objects.filter(action=Action.RULE_DELETE).exists()


def test_a_viewer_sees_her_countrys_rules_but_cannot_upload_or_delete(client, people, rules):
    as_(client, people["vera"])
    page = client.get(RULES)
    assert [row.identifier for row in page.context["cl"].result_list] == ["VR-XA-0000"]
    assert b"upload-rule-link" not in page.content
    own = client.get(f"{RULES}{rules['XA'].pk}/change/")
    assert own.status_code == 200
    assert b"delete-rule-link" not in own.content
    assert client.get(f"{RULES}upload/").status_code == 404
    assert client.get(f"{RULES}{rules['XA'].pk}/delete-rule/").status_code == 404
    assert client.post(f"{RULES}{rules['XA'].pk}/delete-rule/", {"confirm": "on"}).status_code == 404
    assert ValidationRule.objects.count() == 2


# --- the auditor and the operator -------------------------------------------------------------------------


def test_the_auditor_sees_every_rule_and_every_change_and_changes_nothing(client, people, xa, rules):
    as_(client, people["alice"]).post(f"{RULES}upload/", {"country": "XA", "cms": "not a CMS!"})
    client.post(f"{RULES}{rules['XA'].pk}/delete-rule/", {"confirm": "on"})
    as_(client, people["audrey"])
    assert {row.country for row in listed(client)} == {"XB"}
    foreign = client.get(f"{RULES}{rules['XB'].pk}/change/")
    assert foreign.status_code == 200
    assert b"delete-rule-link" not in foreign.content
    assert client.get(f"{RULES}upload/").status_code == 404
    assert client.post(f"{RULES}{rules['XB'].pk}/delete-rule/", {"confirm": "on"}).status_code == 404
    assert client.post(f"{RULES}{rules['XB'].pk}/change/", {"country": "XA"}).status_code == 403
    assert ValidationRule.objects.filter(pk=rules["XB"].pk).exists()
    # the audit log names every change and refusal in words, with the rule it concerns
    text = admin_world.page_text(client.get("/admin/audit/auditevent/"))
    assert "Rule uploaded RULE_UPLOAD SUCCESS" in text
    assert "Rule upload refused RULE_UPLOAD REJECTED XA INVALID_BASE64 admin:alice" in text
    assert "Rule deleted (every version) RULE_DELETE SUCCESS XA" in text
    assert "VR-XA-0000 1.0.0" in text
    assert "VR-XB-0000 1.0.0" in text
    deletions = client.get("/admin/audit/auditevent/?action__exact=RULE_DELETE").context["cl"].result_list
    assert [(event.actor, event.details["identifier"]) for event in deletions] == [("admin:alice", "VR-XA-0000")]


def test_the_operator_sees_every_countrys_rules_but_does_not_upload_or_delete(client, people, rules):
    as_(client, people["otto"])
    page = client.get(RULES)
    assert {row.country for row in page.context["cl"].result_list} == {"XA", "XB"}
    assert b"upload-rule-link" not in page.content
    assert client.get(f"{RULES}upload/").status_code == 404
    assert client.post(f"{RULES}{rules['XA'].pk}/delete-rule/", {"confirm": "on"}).status_code == 404
    assert ValidationRule.objects.count() == 2


def _import(client, data: bytes, name: str = "valueSets.json"):
    return client.post(f"{VALUESETS}import/", {"file": SimpleUploadedFile(name, data)})


def test_the_operator_imports_value_sets_and_everyone_reads_them(client, people, frozen):
    as_(client, people["otto"])
    assert b"import-valuesets-link" in client.get(VALUESETS).content
    response = _import(client, VALUESETS_FILE.read_bytes())
    assert (response.status_code, response["Location"]) == (302, VALUESETS)
    expected = json.loads(VALUESETS_FILE.read_text())
    assert sorted(ValueSet.objects.values_list("value_set_id", flat=True)) == sorted(expected)
    event = last_event()
    assert (event.action, event.outcome, event.actor) == (Action.VALUESET_IMPORT, Outcome.SUCCESS, "admin:otto")
    assert event.details["source"] == "admin upload: valueSets.json"
    audit_log = as_(client, people["audrey"]).get("/admin/audit/auditevent/")
    assert "Value sets imported VALUESET_IMPORT SUCCESS" in admin_world.page_text(audit_log)
    vaccines = ValueSet.objects.get(value_set_id="vaccines-covid-19-names")
    for name in ("alice", "vera", "audrey", "otto"):
        as_(client, people[name])
        page = client.get(VALUESETS)
        assert page.status_code == 200, name
        row = next(line for line in page.content.decode().split("<tr") if "vaccines-covid-19-names" in line)
        assert f'<td class="field-code_count">{len(expected["vaccines-covid-19-names"])}</td>' in row
        detail = admin_world.page_text(client.get(f"{VALUESETS}{vaccines.pk}/change/"))
        assert '"valueSetId": "vaccines-covid-19-names"' in detail  # the document, indented
        assert "by otto" in detail
        if name != "otto":
            assert b"import-valuesets-link" not in page.content
            assert client.get(f"{VALUESETS}import/").status_code == 404
            assert _import(client, b'{"ok-id": ["a"]}').status_code == 404
    history = client.get(f"{VALUESETS}{vaccines.pk}/history/").context["entries"]
    assert [(entry["what"], entry["who"]) for entry in history] == [("Value sets imported", "otto")]
    # nobody edits a set by hand, operators included
    assert client.post(f"{VALUESETS}{vaccines.pk}/change/", {"value_set_date": "x"}).status_code == 403
    assert client.get(f"{VALUESETS}add/").status_code == 403
    assert client.post(f"{VALUESETS}{vaccines.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ValueSet.objects.count() == len(expected)


@pytest.mark.parametrize(
    ("hostile", "detail"),
    [
        (b"not json", "not JSON"),
        (b'{"Bad Id": ["a"]}', "is not a value set id"),
        (b'{"ok-id": ["a", "a"]}', "a code appears twice"),
        (b"x" * (16 * 1024 * 1024 + 1), "bytes: at most"),
    ],
)
def test_a_malformed_import_changes_nothing(client, people, frozen, settings, hostile, detail):
    settings.GATEWAY_MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
    as_(client, people["otto"])
    assert _import(client, VALUESETS_FILE.read_bytes()).status_code == 302
    before = list(ValueSet.objects.values_list("value_set_id", "document", "imported_at"))
    response = _import(client, hostile, "bad.json")
    assert response.status_code == 200
    text = admin_world.page_text(response)
    assert text.count("Refused (VALUESET_INVALID)") == 1
    assert detail in text
    assert list(ValueSet.objects.values_list("value_set_id", "document", "imported_at")) == before
    event = last_event()
    assert (event.action, event.outcome, event.reason, event.actor) == (
        Action.VALUESET_IMPORT,
        Outcome.REJECTED,
        "VALUESET_INVALID",
        "admin:otto",
    )
    assert event.details["source"] == "admin upload: bad.json"


# --- what a rule's page shows -----------------------------------------------------------------------------


def test_a_rules_page_shows_descriptions_logic_and_the_validity_timeline(client, people, xa, frozen):
    as_(client, people["alice"])
    first = rule_for("XA", days=3, Description=TWO_LANGUAGES)  # valid NOW+3d to NOW+33d
    assert client.post(f"{RULES}upload/", {"country": "XA", "cms": signed(xa, first)}).status_code == 302
    assert post_rule(client, xa, rule_for("XA", days=5, Version="1.1.0")).status_code == 201  # NOW+5d to NOW+35d
    old, new = (ValidationRule.objects.get(version=version) for version in ("1.0.0", "1.1.0"))

    def timeline(row) -> list[tuple[str, str, bool, bool, str]]:
        page = as_(client, people["alice"]).get(f"{RULES}{row.pk}/change/")  # a session of days ago has ended
        return [
            (v.row.version, v.row.state, v.current, v.this, v.uploaded_by) for v in page.context["timeline"].versions
        ]

    alice, api = "alice", "the country's backend (API)"
    assert timeline(old) == [
        ("1.0.0", "upcoming", False, True, alice),
        ("1.1.0", "upcoming", False, False, api),
    ]
    frozen.move_to(NOW + dt.timedelta(days=4))
    assert timeline(old) == [("1.0.0", "current", True, True, alice), ("1.1.0", "upcoming", False, False, api)]
    frozen.move_to(NOW + dt.timedelta(days=6))
    assert timeline(new) == [("1.0.0", "superseded", False, False, alice), ("1.1.0", "current", True, True, api)]
    page = client.get(f"{RULES}{old.pk}/change/")
    text = admin_world.page_text(page)
    assert "Rule VR-XA-0000, version 1.0.0" in text
    assert "en At most one v-event." in text  # every language the country gave
    assert "de Höchstens ein v-Ereignis." in text
    assert '<pre class="logic">{\n  &quot;!&quot;: [\n    {\n      &quot;var&quot;: &quot;payload.v.1&quot;' in (
        page.content.decode()
    )  # the Logic, indented
    assert "Fields it reads: v.1" in text
    assert "CERTLOGIC 0.7.5" in text
    assert f"by {alice}" in text
    assert thumbprint(xa.upload.der) in text
    assert re.search(r"1\.1\.0 (\S+ \S+ ){2}current valid now", text)  # version, two windows, its state
    # the list states each version at now, and filters by it
    states = {row.version: row.state for row in listed(client)}
    assert states == {"1.0.0": "superseded", "1.1.0": "current"}
    assert [row.version for row in listed(client, f"{RULES}?state=current")] == ["1.1.0"]
    frozen.move_to(NOW + dt.timedelta(days=36))
    assert [state for _, state, *_ in timeline(new)] == ["expired", "expired"]


def test_a_rules_history_comes_from_the_audit_log(client, people, xa, rules):
    as_(client, people["alice"])
    assert client.post(f"{RULES}{rules['XA'].pk}/delete-rule/", {"confirm": "on"}).status_code == 302
    assert client.post(f"{RULES}upload/", {"country": "XA", "cms": signed(xa, rule_for("XA"))}).status_code == 302
    again = ValidationRule.objects.get(identifier="VR-XA-0000")
    page = client.get(f"{RULES}{again.pk}/history/")
    entries = [(entry["what"], entry["who"]) for entry in page.context["entries"]]
    assert entries == [
        ("Rule uploaded", "alice"),
        ("Rule deleted (every version)", "alice"),
        ("Rule uploaded", "the country's backend (API)"),
    ]
    assert "every upload, re-signing and deletion of rule VR-XA-0000" in admin_world.page_text(page)


def test_the_rule_list_costs_the_same_queries_for_more_rows(client, people, xa, rules):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    as_(client, people["otto"])
    with CaptureQueriesContext(connection) as few:
        assert client.get(RULES).status_code == 200
    for days, version in ((4, "1.0.1"), (5, "1.0.2"), (6, "1.0.3")):
        assert post_rule(client, xa, rule_for("XA", days=days, Version=version)).status_code == 201
    with CaptureQueriesContext(connection) as more:
        page = client.get(RULES)
    assert len(page.context["cl"].result_list) == 5
    assert len(more) == len(few), "one query per page of rows, not one per row"
