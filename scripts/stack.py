"""The production-like stack on this machine, without Docker:

    .venv/bin/python scripts/stack.py up      # nginx (mTLS) → gunicorn (unix socket) → Django,
                                               # Celery worker and beat, PostgreSQL, Redis
    .venv/bin/python scripts/stack.py down
    .venv/bin/python scripts/stack.py start|stop|kill SERVICE   # one of SERVICES, or celery-worker-N
                                               # (an extra worker); kill = SIGKILL to its process group

State lives in GATEWAY_STACK_DIR (default var/stack): TLS files, the rendered nginx.conf, pid
files, logs, the publish folder, the demo PKI and an `env` file to source for manage.py.
The listening address is GATEWAY_STACK_LISTEN (default 127.0.0.1:8443). GATEWAY_STACK_POSTGRES
is the PostgreSQL server (default postgres://postgres@127.0.0.1:5432) in which the database
GATEWAY_STACK_DATABASE is created; GATEWAY_STACK_REDIS the Redis URL. GATEWAY_STACK_COUNTRIES
names the demo countries seeded (default XA,XB,XC; also the virtual countries unless
GATEWAY_VIRTUAL_COUNTRIES says otherwise): two stacks federating with each other seed different
ones, as two real gateways onboard different countries.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import signal
import ssl
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402

from gateway.pki import issuance  # noqa: E402

STACK = Path(os.environ.get("GATEWAY_STACK_DIR", ROOT / "var" / "stack")).resolve()
LISTEN = os.environ.get("GATEWAY_STACK_LISTEN", "127.0.0.1:8443")
DATABASE = os.environ.get("GATEWAY_STACK_DATABASE", "gateway_stack")
POSTGRES = os.environ.get("GATEWAY_STACK_POSTGRES", "postgres://postgres@127.0.0.1:5432").rstrip("/")
COUNTRIES = os.environ.get("GATEWAY_STACK_COUNTRIES", "XA,XB,XC")
PYTHON = sys.executable
SERVICES = ("gunicorn", "celery-worker", "celery-beat")


def environment() -> dict[str, str]:
    secret_file, key_file = STACK / "proxy-secret", STACK / "django-secret"
    for path in (secret_file, key_file):
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))  # Django's deploy check wants >= 50 characters
            path.chmod(0o600)
    return {
        **os.environ,
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "REDIS_URL": os.environ.get("GATEWAY_STACK_REDIS", "redis://127.0.0.1:6379/3"),
        "GATEWAY_VAR_DIR": str(STACK),
        "GATEWAY_TRUST_ANCHOR_FILES": str(STACK / "demo" / "trust-anchor" / "ta.pem"),
        "GATEWAY_VIRTUAL_COUNTRIES": os.environ.get("GATEWAY_VIRTUAL_COUNTRIES", COUNTRIES),
        "GATEWAY_TRUSTED_PROXIES": "unix",
        "GATEWAY_PROXY_SECRET_FILE": str(secret_file),
        "DJANGO_SECRET_KEY_FILE": str(key_file),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        # What browsers use: the admin's forms come from this origin (its port is not 443).
        "GATEWAY_PUBLIC_ORIGIN": f"https://{LISTEN}",
        "GATEWAY_SECURE_COOKIES": "true",
        "GATEWAY_BEHIND_TLS_PROXY": "true",
        "GATEWAY_TRUST_UPSTREAM_REQUEST_ID": "true",
        "GATEWAY_LOG_FORMAT": "json",
    }


def up() -> None:
    for folder in ("run", "log", "tls", "static"):
        (STACK / folder).mkdir(parents=True, exist_ok=True)
    subprocess.run([str(ROOT / "scripts" / "ensure-services")], check=True, stdout=subprocess.DEVNULL)
    env = environment()
    _create_database()
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    seed = [*manage, "demo_seed", "--dir", str(STACK / "demo"), "--countries", COUNTRIES]
    subprocess.run(seed, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*manage, "collectstatic", "--no-input", "-v", "0"], env=env, check=True)
    _server_tls()
    _render_nginx(env)
    socket = STACK / "run" / "gunicorn.sock"
    for name in SERVICES:
        _start(name, _command(name), env)
    _wait_for(socket.exists, "gunicorn's socket")
    subprocess.run(["nginx", "-c", str(STACK / "nginx.conf"), "-p", str(STACK)], check=True)
    _wait_for(_answers, f"https://{LISTEN}/")
    (STACK / "env").write_text(
        "".join(
            f"export {k}={env[k]}\n"
            for k in sorted(env)
            if k.startswith(("DATABASE_URL", "REDIS_URL", "GATEWAY_", "DJANGO_"))
        )
    )
    print(f"stack up: https://{LISTEN}/ (CA {STACK / 'tls' / 'ca.pem'}); `source {STACK / 'env'}` for manage.py")


def down() -> None:
    conf = STACK / "nginx.conf"
    if (STACK / "run" / "nginx.pid").exists():
        subprocess.run(["nginx", "-c", str(conf), "-p", str(STACK), "-s", "quit"], check=False)
    extra = sorted(p.stem for p in (STACK / "run").glob("*.pid") if p.stem not in (*SERVICES, "nginx"))
    # Every service is told at once and the waits overlap: gunicorn's and Celery's warm shutdowns
    # take seconds each, one after another they added up to ten.
    stop(*SERVICES, *extra)
    for _ in range(50):
        if not (STACK / "run" / "nginx.pid").exists():
            break
        time.sleep(0.1)
    print("stack down")


def start(name: str) -> None:
    """Start one service of a stack that is up (again, after stop or kill; or an extra worker)."""
    _start(name, _command(name), environment())


def _running(pid: int) -> bool:
    """Whether the process still runs: one that has exited but that its parent (init, for the
    services started by ``up``) has not reaped yet is a zombie, and is done."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc: the signal's answer is all there is
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop(*names: str) -> None:
    """SIGTERM each, then SIGKILL whichever still runs after ten seconds."""
    pids = {}
    for name in names:
        pid_file = STACK / "run" / f"{name}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            pids[name] = pid
        except ProcessLookupError:
            pid_file.unlink(missing_ok=True)
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for name, pid in pids.items():
        if _running(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        (STACK / "run" / f"{name}.pid").unlink(missing_ok=True)


def kill(name: str) -> None:
    """SIGKILL the service's whole process group (a Celery worker and its pool: a crash)."""
    pid_file = STACK / "run" / f"{name}.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGKILL)
        for _ in range(100):
            if not _running(pid):
                break
            time.sleep(0.05)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)


def _command(name: str) -> list[str]:
    if name == "gunicorn":
        return [
            PYTHON,
            "-m",
            "gunicorn",
            "gateway.wsgi:application",
            "--config",
            "python:gateway.gunicorn_config",
            "--bind",
            f"unix:{STACK / 'run' / 'gunicorn.sock'}",
            "--workers",
            os.environ.get("GATEWAY_STACK_WORKERS", "3"),
            "--umask",
            "0o007",
            # nginx's own limits (8 KB request lines) decide; gunicorn's default 4094 is lower.
            "--limit-request-line",
            "8190",
            "--access-logfile",
            str(STACK / "log" / "gunicorn-access.log"),
        ]
    if name == "celery-worker" or (name.startswith("celery-worker-") and name[len("celery-worker-") :].isdigit()):
        worker = [PYTHON, "-m", "celery", "-A", "gateway", "worker", "--loglevel", "INFO", "--concurrency", "2"]
        return worker if name == "celery-worker" else [*worker, "--hostname", f"{name}@%h"]
    if name == "celery-beat":
        schedule = str(STACK / "run" / "beat-schedule")
        return [PYTHON, "-m", "celery", "-A", "gateway", "beat", "--loglevel", "INFO", "--schedule", schedule]
    raise SystemExit(f"unknown service {name!r}: one of {', '.join(SERVICES)} or celery-worker-N")


def _start(name: str, command: list[str], env: dict[str, str]) -> None:
    if name == "gunicorn":
        # Its workers sum their metrics here (gateway/gunicorn_config.py empties it at start).
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(STACK / "run" / "prometheus")}
    log = open(STACK / "log" / f"{name}.log", "ab")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (STACK / "run" / f"{name}.pid").write_text(str(process.pid))


def _create_database() -> None:
    server = f"{POSTGRES}/postgres"
    exists = subprocess.run(
        [
            "psql",
            "-d",
            server,
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",  # noqa: S608 - the operator's setting
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(
            ["psql", "-d", server, "-c", f'CREATE DATABASE "{DATABASE}"'],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def _server_tls() -> None:
    tls = STACK / "tls"
    if (tls / "server.pem").exists():
        return
    now = dt.datetime.now(dt.UTC)
    # Named after the stack's address, and named by the server certificate's key identifier: a
    # client trusting several stacks' CAs (federated stacks' workers) finds the one that issued.
    ca = issuance.issue(issuance.name(f"Gateway stack TLS CA {LISTEN}"), at=now, days=825, ca=True)
    key = issuance.new_key()
    host = LISTEN.rsplit(":", 1)[0]
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if host not in ("localhost", "127.0.0.1"):
        names.append(x509.DNSName(host))
    builder = (
        x509.CertificateBuilder()
        .subject_name(issuance.name("localhost"))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(120) | 1 << 119)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=397))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    from cryptography.hazmat.primitives import hashes

    server = issuance.Issued(builder.sign(ca.key, hashes.SHA256()), key)
    (tls / "ca.pem").write_bytes(ca.cert_pem)
    (tls / "server.pem").write_bytes(server.cert_pem)
    (tls / "server.key").write_bytes(server.key_pem)
    (tls / "server.key").chmod(0o600)


def _render_nginx(env: dict[str, str]) -> None:
    template = string.Template((ROOT / "docker" / "nginx" / "gateway.conf.template").read_text())
    # safe_substitute leaves nginx's own $variables alone; no ${PLACEHOLDER} may remain.
    site = template.safe_substitute(
        LISTEN=LISTEN,
        SERVER_CERT=STACK / "tls" / "server.pem",
        SERVER_KEY=STACK / "tls" / "server.key",
        UPSTREAM=f"unix:{STACK / 'run' / 'gunicorn.sock'}",
        PUBLISH_DIR=STACK / "publish",
        PROXY_SECRET=(STACK / "proxy-secret").read_text().strip(),
        RATE_PER_CLIENT=os.environ.get("GATEWAY_STACK_RATE", "50r/s"),
        RATE_BURST=os.environ.get("GATEWAY_STACK_BURST", "100"),
        RATE_ANONYMOUS=os.environ.get("GATEWAY_STACK_ANONYMOUS_RATE", "20r/s"),
        RATE_ANONYMOUS_BURST=os.environ.get("GATEWAY_STACK_ANONYMOUS_BURST", "200"),
        MAX_BODY="64k",
        OPS_NETWORK=os.environ.get("GATEWAY_STACK_OPS_NETWORK", "127.0.0.1"),
    )
    if "${" in site:
        raise SystemExit("the nginx template has a placeholder this script does not fill")
    (STACK / "nginx.conf").write_text(
        ""
        # Workers run as the user who started the stack, so they can reach gunicorn's socket (0660).
        + ("user root;\n" if os.geteuid() == 0 else "")
        + "daemon on;\nworker_processes 2;\n"
        f"pid {STACK / 'run' / 'nginx.pid'};\nerror_log {STACK / 'log' / 'nginx-error.log'};\n"
        "events { worker_connections 1024; }\n"
        "http {\n  include /etc/nginx/mime.types;\n"
        f"  access_log {STACK / 'log' / 'nginx-access.log'};\n"
        f"  client_body_temp_path {STACK / 'run'};\n  proxy_temp_path {STACK / 'run'};\n"
        + "".join("  " + line + "\n" for line in site.splitlines())
        + "}\n"
    )
    subprocess.run(["nginx", "-t", "-q", "-c", str(STACK / "nginx.conf"), "-p", str(STACK)], check=True)


def _answers() -> bool:
    context = ssl.create_default_context(cafile=str(STACK / "tls" / "ca.pem"))
    try:
        with urllib.request.urlopen(f"https://{LISTEN}/api/docs", context=context, timeout=2):
            return True
    except OSError:
        return False


def _wait_for(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}; logs in {STACK / 'log'}")


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "up"
    if action in ("start", "stop", "kill"):
        if len(sys.argv) != 3:
            raise SystemExit(f"usage: stack.py {action} SERVICE")
        {"start": start, "stop": stop, "kill": kill}[action](sys.argv[2])
    else:
        {"up": up, "down": down}[action]()
