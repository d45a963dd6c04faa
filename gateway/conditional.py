"""Conditional requests: does an ``If-None-Match`` header name the representation a server has?"""

from __future__ import annotations


def none_match_hit(header: str, etag: str) -> bool:
    """True when ``If-None-Match`` lists ``etag`` or is ``*``, so the answer is 304 Not Modified.
    RFC 9110 §13.1.2 compares entity tags weakly here: ``W/"x"`` names the same as ``"x"``."""
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags
