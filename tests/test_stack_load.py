"""A short run of bench/stack_load.py's load on the production-like stack, asserting behaviour
only, never timing: countries upload fresh DSCs (some raced from two
connections, some revoked) while readers download the trust list and verifiers sync the signed
publication, all through nginx with client certificates. Afterwards:

- no 5xx and no failed connection;
- no DSC stored twice; every 2xx upload is in /trustList exactly once (a revoked one is absent
  and revoked in the database); each raced DSC got exactly one 201 and one 409;
- every index and list a verifier downloaded verified against the trust anchor;
- eventually published: a new verifier's state equals /trustList's DSCs and revocations.
"""

from __future__ import annotations

import collections

import pytest

from bench.stack_load import LoadConfig, report, run_load

pytestmark = pytest.mark.e2e


def test_load_through_nginx_loses_nothing_and_publishes_everything(open_stack, tmp_path):
    config = LoadConfig(duration=15, readers=6, verifiers=2, revoke_every=3, race_every=5)
    result = run_load(open_stack, config, tmp_path)
    summary = report(result)
    print(summary)
    assert not result.problems, summary
    assert set(result.statuses) <= {200, 201, 204, 304, 409}, summary
    ledger = collections.Counter((entry.action, entry.status) for entry in result.ledger)
    assert ledger[("upload", 201)] >= 3, summary  # every country uploaded
    assert ledger[("upload", 409)] >= 1, summary  # and raced uploads lost
    assert ledger[("revoke", 204)] >= 1, summary
    kinds = {sample.kind for sample in result.samples}
    assert {"GET /trustList", "GET /publication/index.jws"} <= kinds, summary
    assert result.verified_syncs["full"] + result.verified_syncs["delta"] >= 2, summary
    assert result.publish_seconds is not None, summary
