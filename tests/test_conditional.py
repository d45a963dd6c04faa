"""If-None-Match as RFC 9110 §13.1.2 reads it (gateway.conditional), for the API and the published files."""

from __future__ import annotations

import pytest

from gateway.conditional import none_match_hit

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

ETAG = '"abc"'


@pytest.mark.parametrize(
    ("header", "hit"),
    [
        ('"abc"', True),
        ('"x", "abc"', True),
        ('"x","abc" ', True),
        ('W/"abc"', True),  # weak comparison
        ("*", True),
        ("", False),
        ('"abcd"', False),
        ("abc", False),  # an entity tag is quoted
    ],
)
def test_if_none_match(header, hit):
    assert none_match_hit(header, ETAG) is hit
