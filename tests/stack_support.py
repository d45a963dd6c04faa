"""The production-like stack (scripts/stack.py) for end-to-end tests and bench/stack_load.py.

:func:`start` brings one up in a folder of its own: a free port, a fresh PostgreSQL database, a
private Redis (so that two stacks, or two people's test runs, never share a Celery queue), the
given nginx rate limit. :func:`attach` uses a stack that is already running. A :class:`Stack`
talks HTTPS with the demo countries' client certificates (``<dir>/demo/<CC>/``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from typing import Any

from gateway.pki import cms, issuance
from gateway.pki.certs import load_pem_certificate

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = [sys.executable, str(ROOT / "scripts" / "stack.py")]
CertPair = tuple[str, str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def status_code(self) -> int:
        return self.status

    def json(self) -> Any:
        return json.loads(self.body)

    def problem(self) -> dict[str, str]:
        """The problem report of a refusal, whether the gateway or nginx answered it."""
        assert self.headers.get("content-type", "").startswith("application/json"), (self.status, self.body[:300])
        body = self.json()
        assert set(body) >= {"code", "problem", "sendValue", "details", "reason"}, body
        return body


@dataclass(frozen=True)
class DemoCountry:
    """A demo country's certificates and keys as `demo_seed` wrote them."""

    code: str
    folder: Path

    def pair(self, name: str) -> CertPair:
        return str(self.folder / f"{name}.pem"), str(self.folder / f"{name}.key")

    @property
    def auth(self) -> CertPair:
        return self.pair("auth")

    def issued(self, name: str) -> issuance.Issued:
        pem, key = self.pair(name)
        return issuance.Issued(
            load_pem_certificate(Path(pem).read_bytes()), issuance.load_private_key(Path(key).read_bytes())
        )

    @functools.cached_property
    def upload(self) -> issuance.Issued:
        return self.issued("upload")

    @functools.cached_property
    def csca(self) -> issuance.Issued:
        return self.issued("csca")

    def cms_b64(self, payload: bytes) -> bytes:
        """What the national backend sends: base64 of an attached CMS signed with its UPLOAD key."""
        import base64

        return base64.b64encode(cms.sign(payload, self.upload.certificate, self.upload.key, detached=False))


@dataclass
class Stack:
    dir: Path
    host: str
    port: int
    env: dict[str, str]  # scripts/stack.py's and manage.py's environment
    database: str = ""  # set when this process created the database (and drops it in stop())
    redis: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def ca(self) -> str:
        return str(self.dir / "tls" / "ca.pem")

    @property
    def trust_anchor(self) -> Path:
        return self.dir / "demo" / "trust-anchor" / "ta.pem"

    @property
    def publish_dir(self) -> Path:
        return self.dir / "publish"

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    @property
    def publication_url(self) -> str:
        """The published folder through nginx: public, no client certificate."""
        return f"https://{self.host}:{self.port}/publication/"

    def country(self, code: str) -> DemoCountry:
        return DemoCountry(code, self.dir / "demo" / code)

    def context(self, cert: CertPair | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca)
        if cert is not None:
            context.load_cert_chain(*cert)
        return context

    def connection(self, cert: CertPair | None = None, *, timeout: float = 30) -> HTTPSConnection:
        return HTTPSConnection(self.host, self.port, context=self.context(cert), timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        cert: CertPair | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """One request on a new connection."""
        connection = self.connection(cert)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            connection.close()

    def unix_connection(self) -> HTTPConnection:
        """Straight to gunicorn's socket, past nginx (as only nginx should)."""
        socket_path = str(self.dir / "run" / "gunicorn.sock")

        class UnixConnection(HTTPConnection):
            def connect(self) -> None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(30)
                self.sock.connect(socket_path)

        return UnixConnection("localhost")

    def manage(self, *arguments: str, timeout: float = 120, env: dict[str, str] | None = None) -> str:
        """``manage.py`` against the stack's database and settings (and ``env``); its output."""
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *arguments],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {shlex.join(arguments)}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
        return done.stdout

    def service(self, action: str, name: str) -> None:
        """``scripts/stack.py start|stop|kill SERVICE`` on this stack (``celery-worker``...)."""
        done = subprocess.run([*SCRIPT, action, name], env=self.env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"stack.py {action} {name}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as db:
            return list(db.execute(query).fetchall())  # type: ignore[arg-type]


def _child_env(**extra: str) -> dict[str, str]:
    """This process's environment without its database and broker (the stack has its own)."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "GATEWAY_REQUIRE_SERVICES", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    return {**env, **extra}


def start(
    folder: Path, *, rate: str, burst: str, workers: str = "2", settings: Mapping[str, str] | None = None
) -> Stack:
    """``scripts/stack.py up`` in ``folder`` on a free port, a new database and a private Redis.
    ``settings``: more environment for the stack's processes (``GATEWAY_STACK_COUNTRIES``,
    ``GATEWAY_FEDERATION_ID``...), which its ``manage`` gets too."""
    from tests.processes import start_redis

    port, redis_port = free_port(), free_port()
    database = f"gateway_stack_test_{port}"
    redis = start_redis(redis_port)
    env = _child_env(
        GATEWAY_STACK_DIR=str(folder),
        GATEWAY_STACK_LISTEN=f"127.0.0.1:{port}",
        GATEWAY_STACK_DATABASE=database,
        GATEWAY_STACK_REDIS=f"redis://127.0.0.1:{redis_port}/0",
        GATEWAY_STACK_RATE=rate,
        GATEWAY_STACK_BURST=burst,
        GATEWAY_STACK_WORKERS=workers,
        **(settings or {}),
    )
    stack = Stack(folder, "127.0.0.1", port, env, database, redis)
    started = subprocess.run([*SCRIPT, "up"], env=env, capture_output=True, text=True, timeout=300, check=False)
    if started.returncode != 0:
        stop(stack)
        raise AssertionError(f"stack.py up failed:\n{started.stdout[-3000:]}\n{started.stderr[-3000:]}")
    stack.env = {**env, **_exports(folder / "env")}
    return stack


def stop(stack: Stack) -> None:
    from tests.processes import stop as stop_process

    subprocess.run([*SCRIPT, "down"], env=stack.env, capture_output=True, timeout=120, check=False)
    if stack.database:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-c",
                f'DROP DATABASE IF EXISTS "{stack.database}" WITH (FORCE)',
            ],
            capture_output=True,
            check=False,
        )
    if stack.redis is not None:
        stop_process(stack.redis)


@contextlib.contextmanager
def running(
    folder: Path, *, rate: str, burst: str, workers: str = "2", settings: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    stack = start(folder, rate=rate, burst=burst, workers=workers, settings=settings)
    try:
        yield stack
    finally:
        stop(stack)


def attach(folder: Path, listen: str) -> Stack:
    """A stack that is already up (``scripts/stack.py up``); nothing is stopped or dropped."""
    host, port = listen.rsplit(":", 1)
    return Stack(folder, host, int(port), _child_env(**_exports(folder / "env")))


def _exports(env_file: Path) -> dict[str, str]:
    values = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line.removeprefix("export ").split("=", 1)
            values[name] = value
    return values
