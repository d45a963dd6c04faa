"""Verifier SDK: check what the gateway publishes, offline, against a pinned trust anchor.

Pure Python (cryptography, PyJWT); it imports nothing of the gateway and no Django.
"""
