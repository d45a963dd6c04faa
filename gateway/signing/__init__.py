"""Signing for the gateway: publisher keys, the trust anchors from configuration, the signer
backend (one ``sign_digest`` primitive) and the one JWS writer (ground floor: docs/architecture.md)."""
