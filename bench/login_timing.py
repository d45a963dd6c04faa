"""The admin login's answer time for each wrong part (countries/login.py): an unknown username, a
wrong password, a wrong one-time password, and the right three for reference.

The login answers all three wrong cases with one message and does the same work for each (the
password hash, the one-time password's query, HMACs and write, django-axes' bookkeeping, the
audit event, one commit); this shows whether their times have the same shape. Through the WSGI
application in-process (bench/common.py), with the product's password hasher (Django's PBKDF2),
the four cases interleaved in a new random order each round so that the machine's drift falls on
all of them alike, each attempt from its own address (X-Real-IP through the trusted proxy) so that
no lock or wait intervenes. Prints the machine, then the times per case and each wrong case's
median against the unknown username's.

    .venv/bin/python bench/login_timing.py                 # SQLite and PostgreSQL, ~3 minutes
    .venv/bin/python bench/login_timing.py --db postgres --rounds 60
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import time
from pathlib import Path

import common
from common import banner, call, log_summary, summarize, table

POSTGRES_DB = "gateway_bench_login"  # not common's gateway_bench: the other benchmarks may run meanwhile
PASSWORD = "a long enough passphrase for the bench"
CASES = ("unknown username", "wrong password", "wrong one-time password", "right (logs in)")


def main() -> None:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="attempts per case (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the database and folders")
    args = parser.parse_args()
    if common.run_per_database(args, __file__):
        return
    _run(args)


def _run(args) -> None:
    from tests.factory import Pki

    pki = Pki.create()
    folder = Path(tempfile.mkdtemp(prefix="gateway-bench-login-"))
    # No wait per username: every attempt here is at alice, from its own address.
    os.environ["GATEWAY_LOGIN_ACCOUNT_LIMIT"] = str(10 * args.rounds * len(CASES))
    common.POSTGRES_BENCH_DB = POSTGRES_DB  # setup_django drops and creates this database
    env = common.setup_django(args.db, pki.ta.cert_pem)
    banner("Admin login: answer time per wrong part", env)
    try:
        _measure(args)
        print(log_summary())
    finally:
        common.cleanup(args, env, folder, database=POSTGRES_DB)


def _measure(args) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import get_hasher
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    alice = get_user_model().objects.create_user("alice", password=PASSWORD, is_staff=True)
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    hasher = get_hasher()
    print(f"Password hasher: {hasher.algorithm}, {getattr(hasher, 'iterations', '?')} iterations.")
    print(f"{args.rounds} attempts per case, interleaved in random order; each from its own address.\n")
    app = common.wsgi_application()

    def token() -> str:
        return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"

    def wrong_token() -> str:
        return "000000" if token() != "000000" else "111111"

    logins = {
        "unknown username": lambda: ("mallory", PASSWORD, token()),
        "wrong password": lambda: ("alice", "not alice's passphrase", token()),
        "wrong one-time password": lambda: ("alice", PASSWORD, wrong_token()),
        "right (logs in)": lambda: ("alice", PASSWORD, token()),
    }
    times: dict[str, list[float]] = {case: [] for case in CASES}
    order = list(CASES)
    address = 0
    for _ in range(args.rounds):
        random.shuffle(order)
        for case in order:
            TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # a code counts once: reuse it
            cookie, csrf = _csrf(app)
            address += 1
            username, password, code = logins[case]()
            form = (
                f"csrfmiddlewaretoken={csrf}&username={username}&password={password.replace(' ', '+')}&otp_token={code}"
            )
            start = time.perf_counter()
            response = call(
                app,
                "POST",
                "/admin/login/",
                body=form.encode(),
                content_type="application/x-www-form-urlencoded",
                headers={
                    "HTTP_COOKIE": cookie,
                    "HTTP_ORIGIN": "https://localhost",
                    "HTTP_X_REAL_IP": f"10.{address // 65536 % 256}.{address // 256 % 256}.{address % 256}",
                },
            )
            times[case].append(time.perf_counter() - start)
            expected = 302 if case.startswith("right") else 200
            assert response.status == expected, (case, response.status, response.body[:300])
    base = summarize(times["unknown username"]).p50_ms
    rows = []
    for case in CASES:
        summary = summarize(times[case])
        rows.append(
            [
                case,
                f"{summary.p50_ms:.1f}",
                f"{summary.mean_ms:.1f}",
                f"{summary.p95_ms:.1f}",
                f"{summary.min_ms:.1f}",
                f"{summary.max_ms:.1f}",
                f"{summary.p50_ms - base:+.1f}",
            ]
        )
    print(table(["case", "p50 ms", "mean ms", "p95 ms", "min ms", "max ms", "p50 minus unknown username"], rows))
    print()


def _csrf(app) -> tuple[str, str]:
    """A CSRF cookie and a form token for it, from the login page (untimed)."""
    page = call(app, "GET", "/admin/login/")
    cookie = page.headers.get("Set-Cookie", "").split(";", 1)[0]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1).decode()
    return cookie, token


if __name__ == "__main__":
    main()
