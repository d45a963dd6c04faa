"""Value sets (issue 18): imported whole or not at all, served by DGCG's /valuesets, imported on a
schedule by a real Celery worker and beat; and rules and value sets published for verifiers under
the signed index, a verifier's sync holding them with the keys of one sequence."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki import cms
from publication.service import publish
from rules.models import ValueSet
from tests import processes
from tests.factory import NOW
from tests.publishing import anchors, install_publisher, publish_root
from tests.test_rules_api import post_rule, rule_for
from verifier.folder import verify_folder
from verifier.sync import Response, SyncState, sync

VALUESETS = Path(__file__).parent / "data" / "rules" / "business-rules" / "valuesets" / "valueSets.json"
BASE = "https://mirror.example/publication/"


def _import(path: Path) -> None:
    call_command("import_valuesets", str(path))


@pytest.mark.django_db
def test_the_eu_value_sets_import_and_are_served(client, xa):
    _import(VALUESETS)
    expected = json.loads(VALUESETS.read_text())
    assert client.get("/valuesets", **xa.headers()).json() == sorted(expected)
    served = client.get("/valuesets/vaccines-covid-19-names", **xa.headers()).json()
    assert served["valueSetId"] == "vaccines-covid-19-names"
    assert sorted(served["valueSetValues"]) == sorted(expected["vaccines-covid-19-names"])
    missing = client.get("/valuesets/no-such-set", **xa.headers())
    assert (missing.status_code, missing.json()["code"], missing.json()["reason"]) == (
        404,
        "0x100",
        "VALUESET_NOT_FOUND",
    )
    event = AuditEvent.objects.filter(action=Action.VALUESET_IMPORT, outcome=Outcome.SUCCESS).get()
    assert len(event.details["added"]) == len(expected)


@pytest.mark.django_db
def test_dgcgs_form_is_imported_verbatim(client, xa, tmp_path):
    document = {
        "valueSetId": "sct-vaccines-covid-19",
        "valueSetDate": "2021-04-27",
        "valueSetValues": {"1119349007": {"display": "SARS-CoV-2 mRNA vaccine", "lang": "en", "active": True}},
    }
    (tmp_path / "sets.json").write_text(json.dumps([document]))
    _import(tmp_path / "sets.json")
    assert client.get("/valuesets/sct-vaccines-covid-19", **xa.headers()).json() == document


@pytest.mark.django_db
@pytest.mark.parametrize(
    "hostile",
    [
        b"not json",
        b"[]",
        b'{"Bad Id": ["a"]}',
        b'{"ok-id": "not a list"}',
        b'{"ok-id": []}',
        b'{"ok-id": ["a", "a"]}',
        b'{"ok-id": ["a\\u0007b"]}',
        b'{"ok-id": [""]}',
        b'{"ok-id": [1]}',
        b'[{"valueSetId": "x", "valueSetDate": "2021", "valueSetValues": {"a": "not an object"}}]',
        json.dumps({"ok-id": ["a"], "big": ["c"] * 20_001}).encode(),
    ],
)
def test_a_malformed_import_changes_nothing(tmp_path, hostile):
    _import(VALUESETS)
    before = list(ValueSet.objects.values_list("value_set_id", "document"))
    (tmp_path / "bad.json").write_bytes(hostile)
    with pytest.raises(CommandError, match="refused, nothing changed: VALUESET_INVALID"):
        _import(tmp_path / "bad.json")
    assert list(ValueSet.objects.values_list("value_set_id", "document")) == before
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.action, event.outcome, event.reason) == (Action.VALUESET_IMPORT, Outcome.REJECTED, "VALUESET_INVALID")


@pytest.mark.django_db
def test_an_import_replaces_the_sets_whole(tmp_path):
    _import(VALUESETS)
    (tmp_path / "fewer.json").write_text(json.dumps({"country-2-codes": ["AT", "XA"]}))
    _import(tmp_path / "fewer.json")
    assert list(ValueSet.objects.values_list("value_set_id", flat=True)) == ["country-2-codes"]
    event = AuditEvent.objects.filter(action=Action.VALUESET_IMPORT).order_by("-id").first()
    assert event.details["changed"] == ["country-2-codes"]
    assert "vaccines-covid-19-names" in event.details["removed"]


class _Folder:
    def __init__(self) -> None:
        self.requests: list[str] = []

    def __call__(self, url, headers, cap, progress):
        path = url.removeprefix(BASE)
        self.requests.append(path)
        try:
            return Response(200, {}, (publish_root() / path).read_bytes())
        except FileNotFoundError:
            return Response(404, {}, b"")


@pytest.mark.django_db(transaction=True)
def test_rules_and_value_sets_are_published_with_the_keys_and_synced(client, pki, xa, tmp_path):
    install_publisher(pki)
    _import(VALUESETS)
    rule = rule_for("XA")
    assert post_rule(client, xa, rule).status_code == 201
    publish(at=NOW, force=True)
    assert verify_folder(publish_root(), anchors(pki), NOW).problems == []
    folder, state = _Folder(), tmp_path / "state"
    sync(BASE, state, anchors(pki), NOW, fetch=folder)
    held = SyncState.load(state).artifacts
    assert held["valuesets"]["content"] == json.loads(VALUESETS.read_text())
    (entry,) = held["rules"]["content"]["rules"]
    raw = base64.b64decode(entry["raw"])
    assert json.loads(raw) == rule
    assert (entry["identifier"], entry["version"], entry["type"]) == ("VR-XA-0000", "1.0.0", "Acceptance")
    # Anyone can check who signed the rule: the uploader's detached CMS over its bytes.
    assert cms.verify_detached(base64.b64decode(entry["signature"]), raw).payload == raw
    # A second version is a new version of the artifact; the value sets, unchanged, are not fetched again.
    assert post_rule(client, xa, rule_for("XA", days=4, Version="1.1.0")).status_code == 201
    publish(at=NOW + dt.timedelta(seconds=1), force=True)
    folder.requests.clear()
    assert sync(BASE, state, anchors(pki), NOW, fetch=folder).mode == "delta"
    assert [path for path in folder.requests if path.endswith("valuesets.jws")] == []
    assert len(SyncState.load(state).artifacts["rules"]["content"]["rules"]) == 2


@pytest.mark.postgres
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_beat_imports_the_value_sets_on_schedule_with_a_real_worker(pki, tmp_path):
    install_publisher(pki, at=timezone.now())
    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    source = tmp_path / "valueSets.json"
    source.write_bytes(VALUESETS.read_bytes())
    env = processes.child_env(
        url, GATEWAY_VALUESETS_URL=source.as_uri(), GATEWAY_VALUESETS_IMPORT_SECONDS="1", GATEWAY_PUBLISH_SWEEP="1"
    )
    with (
        processes.redis_server(port),
        processes.celery("worker", env, tmp_path / "worker.log"),
        processes.celery("beat", env, tmp_path / "beat.log"),
    ):
        processes.wait_for(lambda: ValueSet.objects.count() == 9, timeout=60, what="the scheduled import")
        # A change at the source arrives at the next beat; a broken file changes nothing.
        source.write_text(json.dumps({"country-2-codes": ["AT", "XA"]}))
        processes.wait_for(lambda: ValueSet.objects.count() == 1, timeout=60, what="the next scheduled import")
        source.write_text("{broken")
        processes.wait_for(
            lambda: AuditEvent.objects.filter(action=Action.VALUESET_IMPORT, outcome=Outcome.REJECTED).exists(),
            timeout=60,
            what="the refused import",
        )
        assert ValueSet.objects.count() == 1
        processes.wait_for(
            lambda: b"valuesets.jws" in b"".join(p.name.encode() for p in publish_root().glob("sequences/*/*")),
            timeout=60,
            what="the worker to publish the value sets",
        )
    assert b"rules.tasks.import_valuesets" in (tmp_path / "worker.log").read_bytes()
