"""The commands a newcomer runs from the README without a terminal: people, their one-time-password
devices, and fresh demo DSCs; and the landing page a browser opens first."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
import zxingcpp
from cryptography import x509
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from gateway.pki import certs, issuance
from oversight import demo
from tests.factory import NOW

pytestmark = pytest.mark.django_db


def run(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


# --- one-time-password devices -----------------------------------------------------------------

# segno's compact terminal rendering: each character is two modules, top and bottom; a full block
# is light (the terminal's foreground on a dark background), a space is dark.
HALVES = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0)}


def picture_of(terminal_text: str) -> Image.Image:
    rows = [line for line in terminal_text.splitlines() if line and set(line) <= set(HALVES)]
    width = len(rows[0])
    assert all(len(row) == width for row in rows), "ragged QR rows"
    image = Image.new("L", (width, 2 * len(rows)))
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            top, bottom = HALVES[char]
            image.putpixel((x, 2 * y), 255 * top)
            image.putpixel((x, 2 * y + 1), 255 * bottom)
    return image.resize((width * 8, len(rows) * 16), Image.Resampling.NEAREST)


def test_the_terminal_qr_code_scans_to_the_device_uri():
    user = get_user_model().objects.create_user("carol")
    printed = run("add_otp_device", "carol")
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed
    lines = printed.splitlines()
    assert lines[0] == device.config_url
    assert "" not in lines[1:], "an empty line inside the QR code makes it unreadable"
    decoded = zxingcpp.read_barcodes(picture_of(printed))
    assert [code.text for code in decoded] == [device.config_url]


def test_the_png_is_written_for_its_owner_only_where_asked(tmp_path):
    get_user_model().objects.create_user("carol")
    target = tmp_path / "otp" / "carol.png"
    run("add_otp_device", "carol", png=str(target))
    device = TOTPDevice.objects.get(user__username="carol")
    assert target.stat().st_mode & 0o777 == 0o600
    assert [code.text for code in zxingcpp.read_barcodes(Image.open(target))] == [device.config_url]
    # a second device replaces the picture instead of failing on the old file
    run("add_otp_device", "carol", "--name", "spare", png=str(target))
    assert TOTPDevice.objects.filter(user__username="carol").count() == 2


def test_a_device_for_nobody_is_refused():
    with pytest.raises(CommandError, match="no user 'nobody'"):
        run("add_otp_device", "nobody")


# --- people --------------------------------------------------------------------------------------


def test_add_person_prints_a_generated_first_password_once(monkeypatch):
    monkeypatch.delenv("GATEWAY_PERSON_PASSWORD", raising=False)
    printed = run("add_person", "alice", "--email", "alice@health.xa.example", "--name", "Alice Martin")
    password = re.fullmatch(r"created alice; first password \(shown once\): (\S+)\n", printed).group(1)
    user = get_user_model().objects.get(username="alice")
    assert user.check_password(password)
    assert len(password) >= 20
    assert (user.is_staff, user.is_superuser) == (True, False)  # into the admin, with no role yet
    assert (user.first_name, user.last_name, user.email) == ("Alice", "Martin", "alice@health.xa.example")
    assert run("add_person", "bob").split(": ")[-1].strip() != password


def test_add_person_takes_the_password_from_the_environment_and_checks_it(monkeypatch):
    monkeypatch.setenv("GATEWAY_PERSON_PASSWORD", "a long and private passphrase")
    assert "with the password from $GATEWAY_PERSON_PASSWORD" in run("add_person", "audrey")
    assert get_user_model().objects.get(username="audrey").check_password("a long and private passphrase")
    monkeypatch.setenv("GATEWAY_PERSON_PASSWORD", "password")
    with pytest.raises(CommandError, match="too weak"):
        run("add_person", "mallory")
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_add_person_never_changes_an_existing_account():
    get_user_model().objects.create_user("alice", password="the old one is kept")
    with pytest.raises(CommandError, match="already a person called 'alice'"):
        run("add_person", "alice")
    assert get_user_model().objects.get(username="alice").check_password("the old one is kept")


# --- demo DSCs -----------------------------------------------------------------------------------


@pytest.fixture
def demo_country(tmp_path) -> Path:
    folder = tmp_path / "demo" / "XA"
    csca = issuance.issue(issuance.name("XA demo CSCA", "XA"), at=NOW, days=1460, ca=True)
    demo.save(folder, "csca", csca)
    return folder


def test_demo_dsc_issues_a_new_dsc_under_the_country_csca_each_time(demo_country, frozen):
    run("demo_dsc", "xa", "--dir", str(demo_country.parent))
    first = x509.load_pem_x509_certificate((demo_country / "dsc.pem").read_bytes())
    run("demo_dsc", "XA", "--dir", str(demo_country.parent), "--days", "30")
    second = x509.load_pem_x509_certificate((demo_country / "dsc.pem").read_bytes())
    csca = x509.load_pem_x509_certificate((demo_country / "csca.pem").read_bytes())

    assert first.serial_number != second.serial_number
    assert first.public_key() != second.public_key()
    for dsc in (first, second):
        dsc.verify_directly_issued_by(csca)
        assert dsc.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value == "XA"
    assert second.not_valid_after_utc == (NOW + dt.timedelta(days=30)).replace(microsecond=0)
    assert set(certs.dcc_usages(second)) == {"test", "vaccination", "recovery"}
    key = issuance.load_private_key((demo_country / "dsc.key").read_bytes())
    assert key.public_key() == second.public_key()
    assert (demo_country / "dsc.key").stat().st_mode & 0o777 == 0o600


def test_demo_dsc_needs_a_seeded_country(tmp_path):
    with pytest.raises(CommandError, match="no demo CSCA key"):
        run("demo_dsc", "XQ", "--dir", str(tmp_path))


# --- the landing page ----------------------------------------------------------------------------


def test_the_landing_page_links_the_docs_the_admin_the_published_files_and_health(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for href in ("/api/docs", "/admin/", "/publication/index.jws", "/publication/did.json", "/health/"):
        assert f'href="{href}"' in page
    assert client.post("/").status_code == 405
