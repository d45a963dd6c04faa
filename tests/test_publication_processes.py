"""Publication with real processes on PostgreSQL and Redis: a Celery worker and beat, several
publishers at once, and Redis stopped while uploads continue."""

from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import contextmanager

import pytest
from django.test import override_settings
from django.utils import timezone

from gateway.celery import app as celery_app
from gateway.pki.certs import thumbprint
from publication.folder import published_sequence
from publication.models import Publication
from tests import processes
from tests.helpers import upload
from tests.publishing import anchors, install_publisher, publish_root, served_trust_list
from trustlist.models import SignerCertificate
from verifier.artifacts import verify_artifact
from verifier.folder import verify_folder
from verifier.index import verify_index
from verifier.reasons import VerificationError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@contextmanager
def broker(url: str):
    """Make this process queue tasks on ``url`` instead of running them eagerly, and share the
    worker's cache there (the publication-pending flag lives in it), as production does."""
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager")}
    _reset_connections()
    celery_app.conf.update(broker_url=url, task_always_eager=False)
    cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    try:
        with override_settings(CACHES=cache, CELERY_TASK_ALWAYS_EAGER=False):
            yield
    finally:
        _reset_connections()
        celery_app.conf.update(saved)


def _reset_connections() -> None:
    # Celery caches its connection and producer pools on first use; drop them so that the
    # next message goes to the broker configured now.
    celery_app.close()
    celery_app.amqp._producer_pool = None


def _served_thumbprints(pki) -> set[str]:
    """The trust list a verifier syncing from the folder holds (full lists of F + deltas)."""
    for _ in range(20):
        try:
            return set(served_trust_list(publish_root(), anchors(pki), dt.datetime.now(dt.UTC)))
        except FileNotFoundError:
            return set()
        except VerificationError:  # read while a newer index replaced the one just read
            time.sleep(0.05)
    raise AssertionError("the published folder does not verify")


def _named_full_list(pki) -> set[str]:
    """Thumbprints in the full trust list the index names (rebuilt in the background)."""
    now = dt.datetime.now(dt.UTC)
    index = verify_index((publish_root() / "index.jws").read_bytes(), anchors(pki), now)
    payload = verify_artifact(
        (publish_root() / index.trust_list.path).read_bytes(),
        index.trust_list,
        anchors(pki),
        now,
        kind="trust-list",
        sequence=index.full_sequence,
        allowed_kids=index.announced_kids,
    )
    return {entry["thumbprint"] for entry in payload["entries"]}


@pytest.fixture
def country(pki):
    install_publisher(pki, at=timezone.now())
    return pki.country("XA")


def test_worker_publishes_an_upload(client, pki, country, tmp_path):
    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = processes.child_env(url)
    with processes.redis_server(port), processes.celery("worker", env, tmp_path / "worker.log"), broker(url):
        dsc = country.dsc(at=timezone.now())
        assert upload(client, country, country.cms_b64(dsc.der)).status_code == 201
        seconds = processes.wait_for(
            lambda: thumbprint(dsc.der) in _served_thumbprints(pki), timeout=30, what="the worker to publish the upload"
        )
        served = client.get("/publication/index.jws")
        verify_index(b"".join(served.streaming_content), anchors(pki), dt.datetime.now(dt.UTC))
    assert verify_folder(publish_root(), anchors(pki), dt.datetime.now(dt.UTC)).problems == []
    assert b"publish_changes" in (tmp_path / "worker.log").read_bytes()
    print(f"upload visible in the served trust list {seconds:.2f} s after its commit")


def test_a_burst_of_uploads_is_published_without_the_sweeper_and_rebuilt(client, pki, country, tmp_path):
    """Uploads in quick succession, one worker, no beat: coalesced publication requests lose no
    change, each is visible by its delta, and the background rebuild then writes full lists
    (and the DID document) that hold them all."""
    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = processes.child_env(url, GATEWAY_PUBLISH_FULL_AFTER_SECONDS="2")
    with processes.redis_server(port), processes.celery("worker", env, tmp_path / "worker.log"), broker(url):
        dscs = [country.dsc(at=timezone.now()) for _ in range(12)]
        for dsc in dscs:
            assert upload(client, country, country.cms_b64(dsc.der)).status_code == 201
        wanted = {thumbprint(d.der) for d in dscs}
        processes.wait_for(lambda: wanted <= _served_thumbprints(pki), timeout=30, what="every upload, by its delta")
        processes.wait_for(
            lambda: wanted <= _named_full_list(pki), timeout=60, what="the background rebuild of the full lists"
        )
        processes.wait_for(  # written after the index that names the full lists
            lambda: len(json.loads((publish_root() / "did.json").read_bytes())["verificationMethod"]) == len(dscs),
            timeout=30,
            what="the DID document of the rebuilt lists",
        )
    log = (tmp_path / "worker.log").read_bytes()
    assert b"rebuild_full_lists" in log
    assert verify_folder(publish_root(), anchors(pki), dt.datetime.now(dt.UTC)).problems == []


def test_uploads_while_redis_is_down_are_published_when_it_returns(client, pki, country, tmp_path):
    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = processes.child_env(url, GATEWAY_PUBLISH_SWEEP="1")
    redis = processes.start_redis(port)
    try:
        with (
            processes.celery("worker", env, tmp_path / "worker.log"),
            processes.celery("beat", env, tmp_path / "beat.log"),
            broker(url),
        ):
            processes.stop(redis)
            dscs = [country.dsc(at=timezone.now()) for _ in range(3)]
            for dsc in dscs:
                assert upload(client, country, country.cms_b64(dsc.der)).status_code == 201
            assert SignerCertificate.objects.count() == 3
            wanted = {thumbprint(d.der) for d in dscs}
            assert not wanted & _served_thumbprints(pki), "nothing can be published while the broker is down"
            redis = processes.start_redis(port)
            processes.wait_for(
                lambda: wanted <= _served_thumbprints(pki),
                timeout=60,
                what="the beat sweeper to publish after Redis returned",
            )
    finally:
        processes.stop(redis)


def test_concurrent_publishers_never_share_or_reverse_a_sequence(pki, country):
    env = processes.child_env("redis://127.0.0.1:1/0")
    runs = [processes.manage("shell", "-c", _PUBLISH_LOOP, env=env) for _ in range(4)]
    outputs = [run.communicate(timeout=120) for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr.decode()
    published = [
        int(line.split()[1])
        for stdout, _ in outputs
        for line in stdout.decode().splitlines()
        if line.startswith("SEQ ")
    ]
    assert len(published) == 20
    assert len(set(published)) == 20, "two publishers published the same sequence"
    rows = list(Publication.objects.published().order_by("issued_at", "id").values_list("id", flat=True))
    assert rows == sorted(rows), "sequence order differs from publication order"
    assert published_sequence(publish_root()) == max(rows)
    assert verify_folder(publish_root(), anchors(pki), dt.datetime.now(dt.UTC)).problems == []


# Five forced publications per process; prints each sequence.
_PUBLISH_LOOP = """
from publication.service import publish
for _ in range(5):
    print("SEQ", publish(force=True).id)
"""


def test_signature_audit_by_a_real_worker(client, pki, country, tmp_path):
    from countries.models import TrustedParty
    from gateway.audit.models import Finding, SignatureAuditRun
    from gateway.pki import issuance, onboarding

    def run_signature_audit() -> None:
        # By name through the gateway's app, as beat sends it: the task's shared proxy resolves
        # against Celery's current app, which earlier tests in this process may have changed.
        celery_app.send_task("gateway.audit.tasks.run_signature_audit")

    port = processes.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = processes.child_env(url)
    with processes.redis_server(port), processes.celery("worker", env, tmp_path / "worker.log"), broker(url):
        dsc = country.dsc(at=timezone.now())
        assert upload(client, country, country.cms_b64(dsc.der)).status_code == 201
        processes.wait_for(lambda: thumbprint(dsc.der) in _served_thumbprints(pki), timeout=30, what="publication")

        run_signature_audit()
        processes.wait_for(
            lambda: SignatureAuditRun.objects.filter(finished_at__isnull=False).exists(),
            timeout=60,
            what="the clean audit run",
        )
        assert not Finding.objects.exists(), list(Finding.objects.values_list("kind", "message"))

        SignerCertificate.objects.filter(thumbprint=thumbprint(dsc.der)).update(raw_data=country.dsc().der)
        rogue = issuance.issue(issuance.name("Rogue TA"), at=timezone.now(), ca=True)
        TrustedParty.objects.filter(thumbprint=thumbprint(country.upload.der)).update(
            signature=onboarding.sign_onboarding(country.upload.der, rogue.der, rogue.key)
        )
        run_signature_audit()
        processes.wait_for(
            lambda: SignatureAuditRun.objects.filter(finished_at__isnull=False).count() == 2,
            timeout=60,
            what="the second audit run",
        )
    kinds = dict(Finding.objects.open().values_list("subject", "kind"))
    assert kinds[thumbprint(dsc.der)] == "DSC_ALTERED"
    assert kinds[thumbprint(country.upload.der)] == "ONBOARDED_SIGNATURE_INVALID"
