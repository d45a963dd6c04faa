"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Uploads and revocations are sent as ``application/cms`` (DGCG) or ``application/cms-text``:
base64 text of a CMS message. Schemathesis knows no serializer for these media types and would
skip those operations, so they are serialized as text/plain is (UTF-8 bytes of the string).
"""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias(["application/cms", "application/cms-text"], "text/plain")
