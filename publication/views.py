"""Public, unauthenticated serving of the publish folder (in production nginx serves it directly
with the same headers: docker/nginx). Strong ETag = SHA-256 of the bytes sent; If-None-Match
gives 304; the index is short-lived in caches, sequence folders are immutable."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from gateway.conditional import none_match_hit
from gateway.pki.errors import Reason
from gateway.problems import Problem
from publication import did
from verifier.descriptors import ARTIFACT_NAME

_etags: dict[tuple[int, int, int], str] = {}
_lock = threading.Lock()

CONTENT_TYPES = {".jws": "application/jose", ".json": "application/json", "": "application/octet-stream"}
MUTABLE_CACHE = "public, max-age=60, must-revalidate"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"

# Every name the publisher writes (docs/publication-format.md, "Files"): the index, the DID
# document, the files of a sequence (lists, delta, span, named content: ARTIFACT_NAME) and the
# part files of partitioned content (verifier.descriptors.part_path).
# Anything else is not published, so it is answered 404 without touching the filesystem: a NUL,
# a name longer than the filesystem's, `..` or a hidden file never reach open() (OWASP: allow-list
# file names rather than clean them).
PUBLISHED_PATH = re.compile(
    rf"index\.jws|{re.escape(did.PATH)}|sequences/[0-9]{{1,19}}/{ARTIFACT_NAME.pattern}\.(?:jws|json)"
    rf"|parts/{ARTIFACT_NAME.pattern}/[0-9a-f]{{64}}"
)
IMMUTABLE_FOLDERS = frozenset({"sequences", "parts"})  # a file there is never rewritten


@require_safe
def published(request: HttpRequest, path: str) -> HttpResponse:
    if not PUBLISHED_PATH.fullmatch(path):
        return _not_found(path)
    root = Path(settings.GATEWAY_PUBLISH_DIR).resolve()
    try:
        target = (root / path).resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        return _not_found(path)
    if not target.is_relative_to(root):  # a link out of the folder
        return _not_found(path)
    gzip_variant = target.with_name(target.name + ".gz")
    use_gzip = "gzip" in request.headers.get("Accept-Encoding", "") and gzip_variant.is_file()
    try:
        handle = open(gzip_variant if use_gzip else target, "rb")
    except OSError:  # missing, a folder, pruned meanwhile, unreadable: nothing published here
        return _not_found(path)
    etag = _etag(handle)
    cache_control = IMMUTABLE_CACHE if target.relative_to(root).parts[0] in IMMUTABLE_FOLDERS else MUTABLE_CACHE
    if none_match_hit(request.headers.get("If-None-Match", ""), etag):
        handle.close()
        response = HttpResponse(status=304)
    else:
        response = FileResponse(handle, content_type=CONTENT_TYPES[Path(path).suffix])  # the name asked for
        if use_gzip:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    response["Vary"] = "Accept-Encoding"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _etag(handle: BinaryIO) -> str:
    """SHA-256 of the open file's bytes, memoised on inode, mtime and size: the publisher
    replaces files by rename, so an open handle keeps the bytes its ETag describes."""
    stat = os.fstat(handle.fileno())
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    etag = _etags.get(key)
    if etag is None:
        digest = hashlib.sha256()
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
        handle.seek(0)
        etag = f'"{digest.hexdigest()}"'
        with _lock:
            if len(_etags) > 1024:
                _etags.clear()
            _etags[key] = etag
    return etag


def _not_found(path: str) -> HttpResponse:
    return Problem(404, "0x001", "Not Found", details=path, reason=Reason.NOT_PUBLISHED).response()
