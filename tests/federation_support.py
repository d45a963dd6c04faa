"""A peer gateway for federation tests: another instance of this gateway, in processes of its
own (``manage.py`` with its own SQLite database, publish folder, trust anchor and federation id),
seeded with demo countries whose keys are on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from verifier.sync import Response

if TYPE_CHECKING:
    from federation.importing import PeerState

ROOT = Path(__file__).resolve().parent.parent
# Settings of the test process that must not leak into a peer's (its own database, its own folders).
_OWN = ("DATABASE_URL", "REDIS_URL", "GATEWAY_", "DJANGO_")


@dataclass
class PeerInstance:
    folder: Path
    gateway_id: str
    countries: tuple[str, ...]
    requests: list[str] = field(default_factory=list)
    served_bytes: int = 0
    endpoint: str = ""

    @classmethod
    def create(cls, folder: Path, gateway_id: str, countries: tuple[str, ...]) -> PeerInstance:
        peer = cls(folder, gateway_id, countries, endpoint=f"https://{gateway_id}.example/publication/")
        folder.mkdir(parents=True, exist_ok=True)
        peer.manage("migrate", "-v0")
        peer.manage("demo_seed", "--countries", ",".join(countries))
        return peer

    def env(self, **extra: str) -> dict[str, str]:
        base = {name: value for name, value in os.environ.items() if not name.startswith(_OWN)}
        return {
            **base,
            "GATEWAY_VAR_DIR": str(self.folder),
            "GATEWAY_TRUST_ANCHOR_FILES": str(self.trust_anchor),
            "GATEWAY_FEDERATION_ID": self.gateway_id,
            "GATEWAY_VIRTUAL_COUNTRIES": ",".join(self.countries),
            **extra,
        }

    def manage(self, *arguments: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {' '.join(arguments)} in {self.gateway_id}: {done.stderr[-3000:]}"
        return done.stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", "-v", "0", "--no-imports", "-c", code)

    @property
    def trust_anchor(self) -> Path:
        return self.folder / "demo" / "trust-anchor" / "ta.pem"

    @property
    def trust_anchor_key(self) -> Path:
        return self.folder / "demo" / "trust-anchor" / "ta.key"

    @property
    def publish_dir(self) -> Path:
        return self.folder / "publish"

    def demo(self, country: str) -> Path:
        return self.folder / "demo" / country

    def upload_new_dsc(self, country: str) -> None:
        """A fresh DSC for ``country`` (written to its demo folder), uploaded as its backend would."""
        self.manage("demo_dsc", country)
        self.shell(
            "from django.utils import timezone\n"
            "from countries.identity import ClientIdentity\n"
            "from countries.models import TrustedParty\n"
            "from gateway.pki import cms\n"
            "from oversight import demo\n"
            "from trustlist.services import upload_signer_certificate\n"
            "from django.conf import settings\n"
            "from pathlib import Path\n"
            f"folder = Path(settings.VAR_DIR) / 'demo' / '{country}'\n"
            "dsc, upload = demo.load(folder, 'dsc'), demo.load(folder, 'upload')\n"
            f"party = TrustedParty.objects.get(country='{country}', certificate_type='AUTHENTICATION')\n"
            f"identity = ClientIdentity(country='{country}', thumbprint=party.thumbprint, party_id=party.pk)\n"
            "upload_signer_certificate(identity=identity, cms_der=cms.sign(dsc.der, upload.certificate, upload.key,"
            " detached=False), at=timezone.now(), actor='test')\n"
        )

    def revoke_dscs(self, country: str) -> None:
        self.shell(
            "from django.utils import timezone\n"
            "from trustlist.models import SignerCertificate\n"
            "from trustlist.services import revoke_by_person\n"
            f"for row in SignerCertificate.objects.filter(country='{country}', revoked_at__isnull=True):\n"
            "    revoke_by_person(row_id=row.pk, reason='compromised', actor='test', at=timezone.now())\n"
        )

    def fetch(self, url: str, headers: dict[str, str], cap: int, progress: object) -> Response:
        """Its publish folder as a mirror at ``endpoint`` serves it (verifier.fetch's signature)."""
        path = url.removeprefix(self.endpoint)
        self.requests.append(path)
        try:
            body = (self.publish_dir / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return Response(404, {}, b"")
        self.served_bytes += len(body)
        return Response(200, {}, body)


def exported_lists(peer: PeerInstance, kind: str) -> bytes:
    """The peer's TNG (``/trustList/certificate``) or DGCG (``/trustList/UPLOAD``, ``CSCA``,
    ``DSC``) answers as its own API renders them, as one offline export (federation.api_peers)."""
    return peer.shell(
        "import json, sys\n"
        "from trustlist import rendering\n"
        "def body(rendered):\n"
        "    return json.loads(b'[' + b','.join(rendered.entries) + b']')\n"
        + (
            "out = {'certificate': body(rendering.tng_certificates([], [], [], False))}\n"
            if kind == "TNG"
            else "out = {name: body(rendering.classic(name)) for name in ('UPLOAD', 'CSCA', 'DSC')}\n"
        )
        + "sys.stdout.write(json.dumps(out))\n"
    ).encode()


def peer_entry(der: bytes, country: str, *, kid: str | None = None, source: str = "") -> dict[str, object]:
    """A DSC entry as a peer publishes it (``source``: where it was onboarded, when not there)."""
    import base64

    from gateway.pki.certs import kid as compute_kid
    from gateway.pki.certs import thumbprint

    return {
        "type": "DSC",
        "country": country,
        "kid": kid or compute_kid(der),
        "certificate": base64.b64encode(der).decode("ascii"),
        "thumbprint": thumbprint(der),
        "usages": ["v"],
        "domain": "DCC",
        "issuer": "",
        **({"source": source} if source else {}),
    }


def peer_state(sequence: int, trusted: list[dict[str, object]], revoked: Sequence[dict[str, object]] = ()) -> PeerState:
    """What a peer's sync hands the import: its sequence, its trusted and revoked entries."""
    from federation.importing import PeerState

    return PeerState(sequence, {str(e["thumbprint"]): e for e in trusted}, {str(e["thumbprint"]): e for e in revoked})
