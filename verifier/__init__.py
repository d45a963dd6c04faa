"""Verifier SDK: sync what a trust gateway publishes and verify EU DCC (HC1) codes offline.

Pure Python (cryptography, PyJWT, cbor2, asn1crypto, zxing-cpp with Pillow, segno, tqdm); it
imports nothing of the gateway and no Django, and installs on its own (`pip install .`).
Modules: publication (verify published artifacts), sync (download and keep the state), trust
(DSCs by kid), hcert (verify and issue HC1), cose, base45, qr, and the CLI in __main__.
"""
