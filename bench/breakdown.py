"""Where an upload's time goes: wall-clock and CPU timers around the product functions an upload calls.

The wrappers replace module attributes for the length of a run (the product code is not changed on
disk). Phases nest (rows marked with dots are part of the row above them) and a function the current code
does not have is reported as missing instead of failing. The timers add a few microseconds per
call, so the instrumented run is a little slower than the plain one.
"""

from __future__ import annotations

import functools
import importlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# (module, attribute, label, depth): in the order an upload calls them.
UPLOAD_PHASES = (
    ("trustlist.api.views", "authenticate", "identity: authenticate (AUTHENTICATION, UPLOAD, CSCA rows)", 0),
    ("trustlist.services", "upload_signer_certificate", "upload service", 0),
    ("gateway.pki.cms", "parse_attached", "CMS parse and signature check", 1),
    ("trustlist.services", "verified_parties_by_type", "verified_parties_by_type (re-verify the rows)", 1),
    ("trustlist.services", "find_issuing_csca", "CSCA signature check", 1),
    ("trustlist.services", "_check_not_present", "duplicate and kid checks", 1),
    ("trustlist.services", "check_dsc", "DSC policy", 1),
    ("trustlist.services", "_store", "store: transaction and on-commit hooks", 1),
    ("gateway.pki.cms", "detach", "cms.detach of the uploaded CMS", 2),
    ("trustlist.services", "record_event", "audit event insert", 2),
    ("trustlist.services", "record_change", "outbox insert + trust state update", 2),
    ("publication.tasks", "publish", "publication task run eagerly on commit", 2),
    ("publication.tasks", "request_publication", "publication request (Redis SET NX) on commit", 2),
)


class Breakdown:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.missing: list[str] = []

    def _wrap(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        seconds, cpu, calls, clock, cpu_clock = self.seconds, self.cpu, self.calls, time.perf_counter, time.thread_time

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start, cpu_start = clock(), cpu_clock()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[label] += clock() - start
                cpu[label] += cpu_clock() - cpu_start
                calls[label] += 1

        return timed

    @contextmanager
    def instrument(self, phases: tuple[tuple[str, str, str, int], ...] = UPLOAD_PHASES) -> Iterator[Breakdown]:
        from django.db.backends.base.base import BaseDatabaseWrapper
        from django.db.backends.utils import CursorWrapper

        patched: list[tuple[Any, str, Any]] = []
        for module_name, attribute, label, _ in phases:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                module = None
            if module is None or not hasattr(module, attribute):
                self.missing.append(f"{module_name}.{attribute}")
                continue
            original = getattr(module, attribute)
            patched.append((module, attribute, original))
            setattr(module, attribute, self._wrap(original, label))
        for owner, attribute, label in (
            (CursorWrapper, "_execute", "SQL: every statement (execute)"),
            (BaseDatabaseWrapper, "_commit", "SQL: COMMIT"),
        ):
            original = getattr(owner, attribute)
            patched.append((owner, attribute, original))
            setattr(owner, attribute, self._wrap(original, label))
        try:
            yield self
        finally:
            for owner, attribute, original in reversed(patched):
                setattr(owner, attribute, original)

    def reset(self) -> None:
        self.seconds.clear()
        self.cpu.clear()
        self.calls.clear()

    def rows(self, requests: int, request_seconds: float, request_cpu: float) -> list[list[object]]:
        """Per upload: calls, wall ms, share of the request's wall time, CPU ms of this process."""
        order = [(label, depth) for _, _, label, depth in UPLOAD_PHASES]
        order += [("SQL: every statement (execute)", 0), ("SQL: COMMIT", 0)]
        rows: list[list[object]] = [
            [
                "whole request (WSGI call)",
                "1",
                f"{request_seconds / requests * 1000:.2f}",
                "100%",
                f"{request_cpu / requests * 1000:.2f}",
            ]
        ]
        for label, depth in order:
            if label not in self.seconds:
                continue
            seconds = self.seconds[label]
            rows.append(
                [
                    "· " * depth + label,
                    f"{self.calls[label] / requests:.1f}",
                    f"{seconds / requests * 1000:.2f}",
                    f"{seconds / request_seconds:.0%}",
                    f"{self.cpu[label] / requests * 1000:.2f}",
                ]
            )
        return rows
