"""Schemathesis over the OpenAPI schema the gateway serves (/api/schema), against the
production-like stack through nginx with a real client certificate.

``schemathesis run`` loads the schema from the stack and calls every operation with generated
data, valid and invalid by the schema (examples, coverage and fuzzing phases, a bounded number
of cases each), as XA (an onboarded country). Its checks: no server error (5xx); status codes,
content types, headers and bodies as the schema documents them; schema-invalid requests
refused with a 4xx. Left out, each for a reason:

- ``positive_data_acceptance``: a request that is valid by the schema is not a valid upload
  (no schema can say that a string is the base64 of a CMS signed by an onboarded UPLOAD key);
- ``unsupported_method``: nginx itself answers TRACE with an HTML 405 without ``Allow``, before
  the gateway sees it; the gateway's own 405 is tested in tests/test_stack_hostile.py.

No response time limit is set (no timing assertions here).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
MAX_EXAMPLES = 60
SEED = 20261127  # a fixed seed: the same cases on every run (change it to explore others)
# A schema-violating request may also be refused with 413: a body over the size limit.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
"""


def test_schemathesis_finds_no_server_error_and_no_schema_violation(open_stack, tmp_path):
    xa = open_stack.country("XA")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
        and not key.lower().endswith("_proxy")
    }
    env["SCHEMATHESIS_HOOKS"] = str(ROOT / "tests" / "schemathesis_hooks.py")
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"https://{open_stack.host}:{open_stack.port}/api/schema",
        "--tls-verify",
        open_stack.ca,
        "--request-cert",
        xa.auth[0],
        "--request-cert-key",
        xa.auth[1],
        "--phases",
        "examples,coverage,fuzzing",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance,unsupported_method",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        # One worker: CPython 3.11.7's ast.parse is not thread-safe (gh-106905, "AST constructor
        # recursion depth mismatch"), and Hypothesis parses lambda sources while generating.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(tmp_path / "junit.xml"),
    ]
    started = time.monotonic()
    # In tmp_path: schemathesis keeps its crash cache in .schemathesis/ under the working folder.
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    (tmp_path / "schemathesis.out").write_text(output)
    assert done.returncode == 0, output[-20000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected, output[-3000:]
    assert tested, output[-3000:]
    assert int(tested[1]) == int(selected[2]) >= 11, "every operation of the schema must be tested"
    print(f"schemathesis: {time.monotonic() - started:.1f} s\n{output[-1500:]}")
