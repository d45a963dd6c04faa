"""gunicorn settings shared by the stack (scripts/stack.py) and the container (docker/).

With several workers, each keeps its own Prometheus counters; prometheus_client's multiprocess
mode sums their files in PROMETHEUS_MULTIPROC_DIR at scrape time. Files of a previous run would
be summed too, so the folder is emptied when the master starts, and a dead worker's gauges are
dropped when it exits.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
