"""Make the CMS a country uploads: its DSC signed with its UPLOAD key. Runs offline, where the
UPLOAD key is kept; the output goes to the API or the admin's upload form. No key leaves."""

from __future__ import annotations

from countries.management.commands._offline_signing import OfflineSigningCommand


class Command(OfflineSigningCommand):
    help = "Print the base64 attached CMS over a DSC's DER, signed with the country's UPLOAD key."
    subject_option, subject_help = "dsc", "the DSC (PEM)"
    signer_option, signer_help = "signer", "the UPLOAD certificate (PEM)"
    key_option, key_help = "key", "the UPLOAD private key (PEM)"
    detached = False  # DGCG's upload: the CMS carries the DSC
