"""The rooms' seams: models whose tables carry another app's name keep their tables and rows,
Celery tasks keep their names, and the one JWS writer signs checkpoints byte for byte as PyJWT
does (docs/architecture.md)."""

from __future__ import annotations

import ast
import base64
import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.pki.certs import certificate_der
from gateway.signing import jws
from gateway.signing.backend import FileSigner, key_id
from gateway.signing.models import PublisherKey
from publication.models import Publication

# No database of the test run (the upgrade test migrates a SQLite file of its own, whatever
# DATABASE_URL says): runs once, in the SQLite run.
pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parent.parent


def test_moved_models_keep_their_tables():
    assert (Publication._meta.app_label, Publication._meta.db_table) == ("publication", "trustlist_publication")
    assert (PublisherKey._meta.app_label, PublisherKey._meta.db_table) == ("signing", "trustlist_publisherkey")


def _task_names(module: str) -> set[str]:
    """The ``name=`` of every ``@shared_task`` in a module, read from its source (a Celery task's
    ``.name`` asks whichever app is current, and tests make several)."""
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    return {
        keyword.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "shared_task"
        for keyword in node.keywords
        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant)
    }


def test_moved_tasks_keep_their_names():
    """The beat schedule and messages queued by the previous release name tasks by these names."""
    from django.conf import settings

    assert _task_names("publication.tasks") == {
        "trustlist.tasks.publish_changes",
        "trustlist.tasks.publish_if_due",
        "trustlist.tasks.rebuild_full_lists",
    }
    assert _task_names("oversight.tasks") == {"gateway.audit.tasks.run_signature_audit"}
    # gateway.audit.tasks.make_checkpoint never moved: Celery names it after its module.
    defined = (
        _task_names("publication.tasks")
        | _task_names("oversight.tasks")
        | _task_names("revocation.tasks")
        | _task_names("federation.tasks")
        | {"gateway.audit.tasks.make_checkpoint"}
    )
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= defined


def test_checkpoint_jws_is_what_pyjwt_made():
    """A database may hold checkpoints that PyJWT signed: the writer gives the same header and payload bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "publisher")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    signer = FileSigner(key, certificate, (certificate_der(certificate),))
    payload = b'{"size":1,"type":"checkpoint"}'
    chain = {"kid": key_id(signer.chain[0]), "x5c": [base64.b64encode(signer.chain[0]).decode("ascii")]}
    pyjwt = jwt.api_jws.encode(payload, key, algorithm="ES256", headers={"typ": "checkpoint+jws", **chain})
    ours = jws.compact(signer, None, payload, extra={"typ": "checkpoint+jws"}).decode("ascii")
    assert ours.split(".")[:2] == pyjwt.split(".")[:2]
    assert jwt.api_jws.decode(ours, key.public_key(), algorithms=["ES256"]) == payload


def _manage(var: Path, *args: str) -> None:
    env = {**os.environ, "GATEWAY_VAR_DIR": str(var)}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", *args, "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)


def test_upgrade_keeps_tables_rows_and_content_types(tmp_path):
    """A database at the schema before the move (trust-list migrations up to 0006, the content
    types of trustlist.publication and trustlist.publisherkey) upgrades without creating or
    dropping a table, keeps its rows, and moves the content types (with their permissions)."""
    _manage(tmp_path, "migrate", "auth")  # the auditors' group is made after every migrate
    _manage(tmp_path, "migrate", "trustlist", "0006_group_labels_publication_index")
    database = tmp_path / "gateway.sqlite3"
    with sqlite3.connect(database) as db:
        # In the earlier schema, these models' content types are the trust-list app's.
        db.execute("DELETE FROM django_content_type WHERE app_label IN ('publication', 'signing')")
        for model in ("publication", "publisherkey"):
            db.execute("INSERT OR IGNORE INTO django_content_type (app_label, model) VALUES ('trustlist', ?)", [model])
        db.execute(
            "INSERT INTO trustlist_publisherkey (label, key_path, csr_pem, state, created_at) "
            "VALUES ('p1', '/k', 'csr', 'CURRENT', '2026-01-01 00:00:00')"
        )
        db.execute(
            "INSERT INTO trustlist_publication (id, issued_at, expires_at, change_high_water, trust_list_sha256, "
            "trust_list_length, revocation_list_sha256, revocation_list_length, delta_sha256, delta_length, "
            "index_sha256, publisher_kid, trusted_count, revoked_count, span_sha256, span_length, delta_plain, "
            "span_plain) VALUES (7, '2026-01-01 00:00:00', '2026-01-03 00:00:00', 3, 'a', 1, 'b', 2, 'c', 3, 'd', "
            "'kid', 4, 5, '', 0, 1, 1)"
        )
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    _manage(tmp_path, "migrate")
    with sqlite3.connect(database) as db:
        after = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert db.execute("SELECT label, state FROM trustlist_publisherkey").fetchall() == [("p1", "CURRENT")]
        assert db.execute("SELECT id, trusted_count FROM trustlist_publication").fetchall() == [(7, 4)]
        labels = dict(
            db.execute(
                "SELECT model, app_label FROM django_content_type WHERE model IN ('publication', 'publisherkey')"
            ).fetchall()
        )
    assert tables <= after  # nothing dropped (other apps' migrations add their own tables)
    assert not any(name.startswith(("publication_", "signing_")) for name in after)
    assert labels == {"publication": "publication", "publisherkey": "signing"}
