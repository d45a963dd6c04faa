"""Sign an onboarding entry with the trust anchor, offline (no database): dgc-cli ``ta sign``."""

from __future__ import annotations

from countries.management.commands._offline_signing import OfflineSigningCommand


class Command(OfflineSigningCommand):
    help = "Print the base64 detached CMS by the trust anchor over a certificate's DER (offline)."
    subject_option, subject_help = "cert", "certificate to onboard (PEM)"
    signer_option, signer_help = "ta-cert", "trust anchor certificate (PEM)"
    key_option, key_help = "ta-key", "trust anchor private key (PEM)"
    detached = True  # DGCG's onboarding signature: a detached CMS over the certificate's DER
