"""The embedded demo's keys on disk: one folder per virtual country, and its walkthrough.

A country's folder holds its TLS client (``auth``), UPLOAD, CSCA and DSC certificates with their
keys, as a national backend would keep them. The gateway never needs these keys: the demo
commands use them to act as the countries do (sign uploads, issue DSCs under their CSCA).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from countries.management.commands._common import write_private
from gateway.pki import certs, issuance

# The walkthrough the README shows and `make run` prints: one file, so the two cannot differ
# (tests/test_readme.py checks the README holds it verbatim and runs it against `make run`).
WALKTHROUGH_FILE = Path(__file__).with_name("demo_walkthrough.sh")
# The folder the walkthrough names; a demo seeded elsewhere prints its own folder instead.
DEFAULT_ROOT = Path("var/demo")

# A demo DSC may sign every DCC type (eHealth network guidelines vol. 1 §5.1.1).
DSC_USAGES = [issuance.EKU_TEST, issuance.EKU_VACCINATION, issuance.EKU_RECOVERY]
DSC_DAYS = 730


def organization(country: str) -> str:
    return f"{country} Ministry of Health (demo)"


def load(folder: Path, label: str) -> issuance.Issued:
    """A certificate and its key from a country's folder (``<label>.pem`` and ``<label>.key``)."""
    certificate = certs.load_pem_certificate((folder / f"{label}.pem").read_bytes())
    key = issuance.load_private_key((folder / f"{label}.key").read_bytes())
    return issuance.Issued(certificate, key)


def save(folder: Path, label: str, item: issuance.Issued, *, replace: bool = False) -> None:
    write_private(folder / f"{label}.key", item.key_pem, replace=replace)
    (folder / f"{label}.pem").write_bytes(item.cert_pem)


def issue_dsc(folder: Path, country: str, *, at: dt.datetime, days: int = DSC_DAYS) -> issuance.Issued:
    """A DSC under the country's demo CSCA (a new key and serial each time), not yet uploaded."""
    csca = load(folder, "csca")
    return issuance.issue(
        issuance.name(f"{country} demo DSC", country, organization(country)),
        at=at,
        days=days,
        issuer=csca,
        extended_key_usage=DSC_USAGES,
    )


def walkthrough(root: Path) -> str:
    """The walkthrough for a demo in ``root`` (relative to the project folder when it is inside)."""
    text = WALKTHROUGH_FILE.read_text()
    shown = shown_root(root)
    return text if shown == DEFAULT_ROOT else text.replace(str(DEFAULT_ROOT), str(shown))


def shown_root(root: Path) -> Path:
    """``root`` as a person in the project folder types it."""
    try:
        return root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return root
