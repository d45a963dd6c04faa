"""The tamper-evident audit log: canonical leaves, gapless appends, checkpoints, proofs, and the
verification command against edits, deletions, swaps and restores (docs/audit.md)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import random
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from gateway.audit import log
from gateway.audit.models import Action, AuditEvent, Checkpoint, Outcome
from gateway.audit.services import record_event
from gateway.pki import leaf, merkle
from gateway.signing import keys
from publication.service import publish
from tests.factory import NOW
from tests.publishing import anchors, install_publisher, publish_root
from verifier.index import verify_index

GOLDEN = {
    "leaf_index": 7,
    "at": dt.datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=dt.UTC),
    "action": "UPLOAD",
    "outcome": "SUCCESS",
    "reason": "",
    "country": "XA",
    "actor": "Zoë",
    "authentication_thumbprint": "a" * 64,
    "uploader_thumbprint": "b" * 64,
    "subject_thumbprint": "c" * 64,
    "details": {"kid": "qroU+hDDovs=", "group": "DSC"},
}
GOLDEN_HASH = "1f7a5e5d0d7d4bd3ea4cbd2a5f1b0f2a62c6e55cd2f1bb2ff7f3e1cd7e0e5c9f"


def test_canonical_leaf_is_stable():
    encoded = leaf.encode(GOLDEN)
    assert encoded.startswith(b"\x01\x00\x00\x00\x017\x00\x00\x00\x1b2026-06-01T12:00:00.123456Z")
    assert leaf.decode_fields(encoded)[6] == "Zoë"
    # Field order, Unicode normalisation form and time zone rendering do not change the bytes.
    reordered = dict(reversed(list(GOLDEN.items())))
    decomposed = {**GOLDEN, "actor": "Zoe\u0308"}
    elsewhere = {**GOLDEN, "at": GOLDEN["at"].astimezone(dt.timezone(dt.timedelta(hours=2)))}
    shuffled_details = {**GOLDEN, "details": {"group": "DSC", "kid": "qroU+hDDovs="}}
    for variant in (reordered, decomposed, elsewhere, shuffled_details):
        assert leaf.encode(variant) == encoded
    assert merkle.leaf_hash(encoded).hex() == merkle.leaf_hash(leaf.encode(GOLDEN)).hex()
    assert leaf.encode({**GOLDEN, "country": "XB"}) != encoded
    with pytest.raises(ValueError, match="timezone-aware"):
        leaf.encode({**GOLDEN, "at": dt.datetime(2026, 6, 1)})


def _events(n: int, at: dt.datetime = NOW) -> None:
    for i in range(n):
        record_event(action=Action.REQUEST, outcome=Outcome.REJECTED, at=at, reason=f"TEST_{i}", details={"i": i})


@pytest.mark.django_db
def test_appends_are_gapless_and_proofs_verify(client):
    _events(37)
    size, root = log.current_tree()
    assert size == 37
    assert list(AuditEvent.objects.values_list("leaf_index", flat=True)) == list(range(37))
    for index in (0, 1, 17, 36):
        body = client.get(f"/audit/proof/inclusion?index={index}&size={size}").json()
        proof = [base64.b64decode(p) for p in body["proof"]]
        leaf_hash = base64.b64decode(body["leafHash"])
        assert merkle.verify_inclusion(leaf_hash, index, size, proof, root)
    old_root = log.root_at(20)
    body = client.get(f"/audit/proof/consistency?first=20&second={size}").json()
    assert base64.b64decode(body["firstRoot"]) == old_root
    assert merkle.verify_consistency(20, size, [base64.b64decode(p) for p in body["proof"]], old_root, root)
    assert client.get("/audit/proof/inclusion?index=40&size=41").status_code == 400
    assert client.get("/audit/proof/inclusion?index=x&size=1").status_code == 400


@pytest.mark.django_db
def test_leaves_are_for_auditors_only(client, django_user_model):
    _events(3)
    assert client.get("/audit/leaves").status_code == 403
    from django.contrib.auth.models import Permission

    auditor = django_user_model.objects.create_user("auditor", password="x")
    auditor.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(auditor)
    leaves = client.get("/audit/leaves?start=1&count=5").json()["leaves"]
    # the anonymous refusal above is answered but not recorded (gateway.audit.refusals)
    assert [item["index"] for item in leaves] == [1, 2]
    assert merkle.leaf_hash(base64.b64decode(leaves[0]["leafBytes"])) == base64.b64decode(leaves[0]["leafHash"])


@pytest.mark.django_db(transaction=True)
def test_checkpoints_are_signed_and_published(client, pki, xa):
    install_publisher(pki)
    _events(5)
    publication = publish(force=True)
    assert publication is not None
    index = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), dt.datetime.now(dt.UTC))
    checkpoint = index.checkpoint
    assert checkpoint["size"] >= 5
    latest = client.get("/audit/checkpoint").json()
    assert {**checkpoint, "jws": latest["jws"]} == latest  # the index's signature covers its copy
    size, root = checkpoint["size"], base64.b64decode(checkpoint["root"])
    assert log.root_at(size) == root
    call_command("verify_audit_log", "--against", str(publish_root() / "index.jws"))


@pytest.mark.django_db(transaction=True)
def test_an_index_whose_tree_head_was_edited_is_not_a_checkpoint(pki, xa, tmp_path):
    """The index carries the tree head under its own signature: an edited copy does not verify."""
    install_publisher(pki)
    _events(3)
    publish(force=True)
    header, payload, signature = (publish_root() / "index.jws").read_bytes().split(b".")
    data = json.loads(base64.urlsafe_b64decode(payload + b"=="))
    data["checkpoint"]["size"] += 1
    edited = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")
    forged = tmp_path / "index.jws"
    forged.write_bytes(b".".join([header, edited, signature]))
    with pytest.raises(CommandError, match="not a verifiable checkpoint"):
        call_command("verify_audit_log", "--against", str(forged))


@pytest.mark.django_db(transaction=True)
def test_beat_checkpoint_covers_new_events(pki, xa, settings):
    from gateway.audit.tasks import make_checkpoint

    install_publisher(pki)
    assert make_checkpoint.apply().get() is not None
    assert make_checkpoint.apply().get() is None  # nothing new within the interval
    _events(2)
    size = make_checkpoint.apply().get()
    assert size == log.current_tree()[0]


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_with_rollbacks_leave_no_gap():
    failures: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for i in range(25):
                with contextlib.suppress(_Rollback), transaction.atomic():
                    record_event(action=Action.REQUEST, outcome=Outcome.REJECTED, at=NOW, reason=f"T{seed}-{i}")
                    if rng.random() < 0.2:
                        raise _Rollback
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    indexes = list(AuditEvent.objects.values_list("leaf_index", flat=True))
    assert indexes == list(range(len(indexes)))
    assert 100 < len(indexes) < 200
    assert log.current_tree()[0] == len(indexes)
    from gateway.audit.verification import verify_log

    assert verify_log([]).ok


class _Rollback(Exception):
    pass


# --- tampering ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _as_intruder():
    """Someone with database access who switches the append-only triggers off (PostgreSQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")


@pytest.fixture
def signed_log(pki, db, frozen):
    install_publisher(pki)
    _events(20)
    log.make_checkpoint(at=NOW, signer=keys.current_signer())
    return pki


def _verify_fails(*against: str) -> str:
    with pytest.raises(CommandError) as info:
        call_command("verify_audit_log", *[a for path in against for a in ("--against", path)], "--at", NOW.isoformat())
    return str(info.value)


def test_clean_log_verifies(signed_log, capsys):
    call_command("verify_audit_log", "--at", NOW.isoformat())
    assert "verified" in capsys.readouterr().out


def test_edited_row_is_found(signed_log):
    with _as_intruder() as cursor:
        cursor.execute("UPDATE audit_auditevent SET country = 'XB' WHERE leaf_index = 9")
    assert _verify_fails().endswith("first bad index: 9")


def test_deleted_middle_row_is_found(signed_log):
    with _as_intruder() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE leaf_index = 12")
    assert _verify_fails().endswith("first bad index: 12")


def test_deleted_last_rows_are_found(signed_log):
    size = log.current_tree()[0]
    with _as_intruder() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE leaf_index >= %s", [size - 2])
    assert _verify_fails().endswith(f"first bad index: {size - 2}")


def test_swapped_rows_are_found(signed_log):
    with _as_intruder() as cursor:
        cursor.execute("UPDATE audit_auditevent SET leaf_index = -1 WHERE leaf_index = 4")
        cursor.execute("UPDATE audit_auditevent SET leaf_index = 4 WHERE leaf_index = 15")
        cursor.execute("UPDATE audit_auditevent SET leaf_index = 15 WHERE leaf_index = -1")
    assert _verify_fails().endswith("first bad index: 4")


def test_consistent_rewrite_is_caught_by_the_checkpoint(signed_log):
    """An intruder who rewrites a row *and* its bytes and hash still cannot match the signed root."""
    row = AuditEvent.objects.get(leaf_index=6)
    forged = leaf.encode({**{f: getattr(row, f) for f in leaf.FIELDS}, "reason": "FORGED"})
    with _as_intruder() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET reason = 'FORGED', leaf_bytes = %s, leaf_hash = %s WHERE leaf_index = 6",
            [forged, merkle.leaf_hash(forged)],
        )
    # The stored subtree hash over leaves 6..7 no longer matches, which pins the rewrite down.
    assert _verify_fails().endswith("first bad index: 6")


def test_altered_subtree_hash_is_found(signed_log):
    """Proofs are served from stored subtree hashes: an altered one must not go unnoticed."""
    with _as_intruder() as cursor:
        cursor.execute('UPDATE audit_auditnode SET hash = %s WHERE level = 2 AND "index" = 1', [b"\x00" * 32])
    assert _verify_fails().endswith("first bad index: 4")


def test_restore_from_old_backup_is_found(signed_log, tmp_path):
    first_export = tmp_path / "checkpoint-backup-time.json"
    call_command("export_audit_checkpoint", "--out", str(first_export))
    backup_size = json.loads(first_export.read_text())["size"]
    _events(10)
    later_export = tmp_path / "checkpoint-later.json"
    call_command("export_audit_checkpoint", "--out", str(later_export))
    assert json.loads(later_export.read_text())["size"] == backup_size + 10
    # "Restore" the backup taken at backup_size leaves: newer rows and checkpoints vanish.
    with _as_intruder() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE leaf_index >= %s", [backup_size])
        cursor.execute("DELETE FROM audit_auditnode")
        cursor.execute("DELETE FROM audit_checkpoint WHERE tree_size > %s", [backup_size])
        cursor.execute("UPDATE audit_auditloghead SET size = 0, frontier = ''")
    _rebuild_head()
    call_command("verify_audit_log", "--against", str(first_export), "--at", NOW.isoformat())  # consistent
    assert _verify_fails(str(later_export)).endswith(f"first bad index: {backup_size}")
    _events(15, at=NOW + dt.timedelta(hours=1))  # new, different history on top of the restore
    assert _verify_fails(str(later_export)).endswith(f"first bad index: {backup_size}")


def _rebuild_head() -> None:
    """What an operator's restore leaves behind: a head that matches the restored rows."""
    from gateway.audit.models import AuditLogHead, AuditNode

    frontier: list[bytes] = []
    nodes = []
    for index, leaf_hash in AuditEvent.objects.order_by("leaf_index").values_list("leaf_index", "leaf_hash"):
        frontier, completed = merkle.extend_frontier(frontier, index, bytes(leaf_hash))
        nodes += [AuditNode(level=lv, index=ix, hash=h) for lv, ix, h in completed]
    AuditNode.objects.bulk_create(nodes)
    AuditLogHead.objects.filter(pk=1).update(
        size=len(AuditEvent.objects.all()), frontier=merkle.pack_frontier(frontier)
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET country = 'XB'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
        "DELETE FROM audit_checkpoint",
        "UPDATE audit_auditnode SET level = 9",
    ],
)
def test_triggers_refuse_changes(signed_log, statement):
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert getattr(info.value.__cause__, "sqlstate", None) == "42501"
    assert AuditEvent.objects.count() == log.current_tree()[0]
    assert Checkpoint.objects.exists()


# --- the published tree head (docs/audit.md, "Verification") -------------------------------------


@pytest.fixture
def published_log(pki, xa, transactional_db, tmp_path):
    """A log of some 20 events whose head an index carries (publish_root()/index.jws), and an
    archived copy of the tables as they were before the last 10 events: what an intruder (or
    an old backup) would put back."""
    install_publisher(pki)
    _events(10)
    log.make_checkpoint(at=NOW, signer=keys.current_signer())
    archived = tmp_path / "checkpoint-archived.json"
    call_command("export_audit_checkpoint", "--out", str(archived))
    snapshot = log.current_tree()[0]
    _events(10)
    publish(force=True, at=NOW)
    return snapshot, archived


def _verify(*arguments: str) -> str:
    out = io.StringIO()
    call_command("verify_audit_log", *arguments, "--at", NOW.isoformat(), stdout=out)
    return out.getvalue()


def _rollback(size: int) -> None:
    """Replace the audit tables by an earlier, consistent snapshot of ``size`` leaves: newer rows,
    their subtree hashes and checkpoints are gone, the head matches what is left."""
    with _as_intruder() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE leaf_index >= %s", [size])
        cursor.execute("DELETE FROM audit_auditnode")
        cursor.execute("DELETE FROM audit_checkpoint WHERE tree_size > %s", [size])
        cursor.execute("UPDATE audit_auditloghead SET size = 0, frontier = ''")
    _rebuild_head()


def test_the_default_command_checks_the_published_head(published_log, pki):
    output = _verify()
    index = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW)
    assert f"checked against the published index {publish_root() / 'index.jws'}" in output
    assert f"sequence {index.sequence}, a tree head of {index.checkpoint['size']} leaves" in output
    assert "audit log of" in output
    assert "verified" in output


def test_without_a_published_index_the_command_says_so(signed_log):
    output = _verify()
    assert f"no index is published yet ({publish_root() / 'index.jws'})" in output
    assert "verified against" in output


def test_a_consistent_rollback_is_caught_by_the_published_head(published_log):
    snapshot, _ = published_log
    _rollback(snapshot)
    (publish_root() / "index.jws").rename(publish_root() / "index.jws.away")
    assert "verified" in _verify(), "the stored checkpoints alone accept the rollback"
    (publish_root() / "index.jws.away").rename(publish_root() / "index.jws")
    with pytest.raises(CommandError) as info:
        _verify()
    assert str(info.value) == f"audit log verification failed (ROLLED_BACK); first bad index: {snapshot}"


def test_a_rollback_with_new_history_on_top_is_caught_by_the_published_head(published_log, pki):
    snapshot, _ = published_log
    head = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), NOW).checkpoint
    _rollback(snapshot)
    _events(head["size"] - snapshot + 5, at=NOW + dt.timedelta(minutes=1))  # longer, and different
    with pytest.raises(CommandError, match=r"\(HISTORY_REWRITTEN\); first bad index: "):
        _verify()


def test_a_rollback_of_the_tables_and_the_publish_folder_needs_an_archived_checkpoint(published_log, tmp_path):
    """The limit (docs/audit.md): the database and the publish folder of one host, put back
    together, agree with each other; only a head kept elsewhere tells."""
    snapshot, archived = published_log
    later = tmp_path / "checkpoint-later.json"
    call_command("export_audit_checkpoint", "--out", str(later))
    _rollback(snapshot)
    (publish_root() / "index.jws").unlink()  # the folder as it was then: no index yet
    assert "verified" in _verify()
    assert "verified" in _verify("--against", str(archived))
    with pytest.raises(CommandError, match=r"\(ROLLED_BACK\)"):
        _verify("--against", str(later))


def test_an_index_that_does_not_verify_fails_the_command(published_log):
    index = publish_root() / "index.jws"
    header, payload, signature = index.read_bytes().split(b".")
    data = json.loads(base64.urlsafe_b64decode(payload + b"=="))
    data["checkpoint"]["size"] -= 1  # a head that would let a rollback through
    index.write_bytes(b".".join([header, base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"="), signature]))
    with pytest.raises(CommandError, match=r"\(INDEX_UNVERIFIABLE\)"):
        _verify()


def test_a_published_head_of_another_log_fails_the_command(published_log, settings):
    settings.GATEWAY_AUDIT_ORIGIN = "another.example/audit"
    with pytest.raises(CommandError, match=r"\(OTHER_LOG\)"):
        _verify()


def test_every_problem_is_named(signed_log):
    with _as_intruder() as cursor:
        cursor.execute("UPDATE audit_auditevent SET country = 'XB' WHERE leaf_index = 9")
    assert _verify_fails() == "audit log verification failed (LEAF_EDITED); first bad index: 9"


def test_the_consistency_proof_from_a_head_is_checked(signed_log):
    """What a verifier holding a head asks /audit/proof/consistency; a head the log does not
    extend fails it (verify_log would report its root first: this is the served proof)."""
    from gateway.audit.verification import LogReport, SignedHead, check_consistent

    size = log.current_tree()[0]
    report = LogReport()
    check_consistent(SignedHead(size - 3, log.root_at(size - 3), "a head"), report)
    assert report.ok
    check_consistent(SignedHead(size - 3, b"\x00" * 32, "a forged head"), report)
    assert report.reasons == ["NOT_CONSISTENT"]
    assert report.first_bad_index == size - 3


def test_the_signature_audit_catches_a_rollback_of_the_tables(published_log):
    """The hourly signature audit checks the log as the command does, the published head included."""
    from gateway.audit.models import Finding
    from oversight import signature_audit

    snapshot, _ = published_log
    assert not Finding.objects.open().filter(kind="AUDIT_LOG_INCONSISTENT").exists()
    signature_audit.run(at=NOW)
    assert not Finding.objects.open().filter(kind="AUDIT_LOG_INCONSISTENT").exists()
    _rollback(snapshot)
    signature_audit.run(at=NOW + dt.timedelta(hours=1))
    (finding,) = Finding.objects.open().filter(kind="AUDIT_LOG_INCONSISTENT")
    assert finding.subject == f"leaf {snapshot}"
    assert finding.message.startswith("ROLLED_BACK: the published index")
