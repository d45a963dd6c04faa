"""The README works as written: its walkthrough is the one `make run` prints, and its commands run
verbatim, in a script without a terminal, against `make run`'s server on a copy of the project.

Every ``sh`` block of the README is either run here (RUN) or named in NOT_RUN with the reason,
so a new block cannot slip in untested.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from oversight import demo

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def sh_blocks() -> dict[str, str]:
    """The README's ``sh`` blocks by the heading of their section (numbered when one has several)."""
    blocks: dict[str, str] = {}
    heading = ""
    for match in re.finditer(r"^(#{1,3} [^\n]+)$|^```sh\n(.*?)^```$", README, re.S | re.M):
        if match.group(1):
            heading = match.group(1).lstrip("# ").strip()
            continue
        name, n = heading, 2
        while name in blocks:
            name, n = f"{heading} ({n})", n + 1
        blocks[name] = match.group(2)
    return blocks


BLOCKS = sh_blocks()
# Sections run against `make run`'s server, in this order (each after the one before).
RUN = ("Try it", "People: the first users and their roles", "Verifier SDK and CLI")
NOT_RUN = {
    # `make run` and `make test` themselves: this test runs the first; CI runs the second.
    "Trust gateway": "the two set-up commands",
    # It needs the operator's own files (a country's certificate, the offline trust anchor's key).
    "Operator commands": "an example with a real country's files",
    # Covered by tests/test_stack.py, which brings the same stack up through scripts/stack.py.
    "Production-like stack on this machine": "the stack's own end-to-end tests",
}


def test_every_sh_block_of_the_readme_is_run_or_excused():
    assert set(BLOCKS) == set(RUN) | set(NOT_RUN), sorted(BLOCKS)


def test_the_readme_shows_the_walkthrough_make_run_prints():
    assert BLOCKS["Try it"] == demo.WALKTHROUGH_FILE.read_text()
    # demo_seed prints it for the default folder as it is, and names any other folder it was given
    assert demo.walkthrough(Path("var/demo")) == BLOCKS["Try it"]
    moved = demo.walkthrough(Path("/srv/elsewhere/demo"))
    assert "D=/srv/elsewhere/demo/XA" in moved
    assert "var/demo" not in moved


def test_the_readme_starts_with_the_two_set_up_commands():
    first = README.index("```sh\n")
    block = README[first : README.index("```\n", first + 6)]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]


# --- against `make run` ------------------------------------------------------------------------

PORT = 8000  # the README's commands name it
# What the server and the commands must not inherit from a test run: the README's reader has
# none of it (the embedded default is SQLite, eager tasks, no proxy secret).
# (nor the variables of a make that runs the tests: make would then say it enters the folder).
STRIPPED = ("DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "CI", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")


def _reader_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in STRIPPED and not key.startswith(("GATEWAY_", "DJANGO_", "PYTEST", "CELERY"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _copy_project(target: Path) -> None:
    """The project's files as a clone has them, with the virtual environment it would have made."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        source = ROOT / raw.decode()
        if source.is_file():
            (target / raw.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / raw.decode())  # mtimes kept: make sees .venv as up to date
    (target / ".venv").symlink_to(ROOT / ".venv")


def _port_open() -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", PORT)) == 0


class Server:
    def __init__(self, project: Path, log: Path) -> None:
        self.project, self.log = project, log

    def __enter__(self) -> Server:
        assert not _port_open(), f"port {PORT} is taken: the README's server needs it"
        self.handle = self.log.open("w")
        self.process = subprocess.Popen(
            ["make", "run"],
            cwd=self.project,
            env=_reader_env(),
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # make, runserver and its reloader child stop together
        )
        deadline = time.monotonic() + 180
        while not _port_open():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                pytest.fail(f"make run did not serve on {PORT}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.handle.close()

    def output(self) -> str:
        return self.log.read_text()


def run_block(project: Path, section: str) -> str:
    """Run a README block as a script does: bash, no terminal, stop at the first failing command."""
    script = "set -euo pipefail\n" + BLOCKS[section]
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        env=_reader_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{section} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def statuses(output: str) -> list[int]:
    return [int(code) for code in re.findall(r"^HTTP/1\.1 (\d{3})", output, re.M)]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("readme") / "gateway"
    folder.mkdir()
    _copy_project(folder)
    return folder


@pytest.mark.e2e
def test_the_readme_runs_verbatim_against_make_run(project, tmp_path):
    with Server(project, tmp_path / "run-1.log") as server:
        walkthrough = run_block(project, "Try it")
        people = run_block(project, "People: the first users and their roles")
        verifier = run_block(project, "Verifier SDK and CLI")
        landing = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=10).read().decode()
        login = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/admin/login/", timeout=10)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/no/such/page", timeout=10)
        body = missing.value.read().decode()  # while the server still runs: the body is read lazily
        printed = server.output()

    # the landing page links what a newcomer looks for; an unknown address is a plain 404, never
    # Django's debug page listing every route
    for href in ("/api/docs", "/admin/", "/publication/index.jws", "/health/"):
        assert f'href="{href}"' in landing
    assert missing.value.code == 404
    assert "NO_SUCH_ENDPOINT" in body
    assert "URLconf" not in body
    # the admin's login works over make run's plain HTTP: its CSRF cookie is not HTTPS-only
    assert login.status == 200
    cookies = login.headers.get_all("Set-Cookie")
    assert any(cookie.startswith("csrftoken=") for cookie in cookies)
    assert not any("secure" in cookie.lower() for cookie in cookies), cookies

    # make run: one line per seeding step, then the walkthrough once, as the README shows it
    before = printed[: printed.index("Demo PKI in")]
    assert [line for line in before.splitlines() if line.strip()] == [
        line for line in before.splitlines() if line.startswith("demo: ")
    ], before
    assert len(before.splitlines()) <= 6
    assert printed.count(BLOCKS["Try it"]) == 1
    assert '{"event"' not in printed  # no JSON log lines in the embedded default
    assert "No hostname was supplied" not in printed

    # the walkthrough: the trust list names XB's and XC's DSCs; the upload is taken, its signature
    # checks with OpenSSL, the revocation is taken and shows; the publication verifies
    assert re.search(r"^DSC XB ", walkthrough, re.M)
    assert re.search(r"^DSC XC ", walkthrough, re.M)
    assert statuses(walkthrough) == [201, 204]
    assert re.search(r"^XA \S+ revoked$", walkthrough, re.M)
    assert re.search(r"^sequence \d+ verified \(\d+ artifacts\)$", walkthrough, re.M)
    assert re.search(r"^unpublished\s+0 change", walkthrough, re.M)

    # people: the first operator, alice and audrey exist with their roles and devices
    assert "Superuser created successfully." in people
    assert "alice is ADMIN of XA" in people
    assert "audrey is an auditor" in people
    for name in ("ops", "alice", "audrey"):
        png = project / "var" / "otp" / f"{name}.png"
        assert png.stat().st_mode & 0o077 == 0, f"{png} is readable by others"
    assert (project / "var" / "demo" / "XA" / "dsc.cms").stat().st_size > 0

    # the verifier syncs from make run's server and accepts a code signed with XB's DSC
    assert re.search(r"^VALID ", verifier, re.M), verifier


@pytest.mark.e2e
def test_after_a_restart_the_walkthrough_works_again_and_make_reset_starts_afresh(project, tmp_path):
    # (runs after the test above, on the same copy: its demo, database and published files)
    with Server(project, tmp_path / "run-2.log") as server:
        again = run_block(project, "Try it")
        printed = server.output()
    assert "demo: trust anchor var/demo/trust-anchor/ta.pem: kept" in printed
    assert statuses(again) == [201, 204]

    reset = subprocess.run(
        ["make", "reset"], cwd=project, env=_reader_env(), capture_output=True, text=True, check=True
    )
    assert "make run seeds a new one" in reset.stdout
    assert not (project / "var" / "demo").exists()
    assert not (project / "var" / "gateway.sqlite3").exists()
    with Server(project, tmp_path / "run-3.log") as server:
        fresh = run_block(project, "Try it")
        printed = server.output()
    assert "demo: trust anchor var/demo/trust-anchor/ta.pem: created" in printed
    assert statuses(fresh) == [201, 204]
