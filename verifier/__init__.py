"""Verifier SDK: sync what a trust gateway publishes and verify EU DCC (HC1) codes offline.

Pure Python (cryptography, PyJWT, cbor2, asn1crypto, zxing-cpp with Pillow, segno, tqdm); it
imports nothing of the gateway and no Django, and installs on its own (`pip install .`).
Modules, by job:
- the words: reasons (every refusal, and the exceptions that carry them), encoding (canonical
  JSON, UTC times, base64url), usages (the DCC types and the EKU intersection rule),
  certificates (trust anchors, "issued by");
- the publication: jws (the signed envelope), descriptors (how a file is named), artifacts (one
  file's checks), index (the signed index and the files it names), chain (walking deltas and
  spans), entries (compact entries), did (the DID document), folder (a whole publish folder),
  sync (download and keep the state);
- HC1 codes: decode (prefix, Base45, zlib, CWT claims), cose, base45, checks (signature, time,
  key usage, revocation), trust (DSCs by kid), hcert (the pipeline and its result), qr, and
  issue (test codes);
- revoked DCCs: revocation_hashes (the UCI, COUNTRYCODEUCI and SIGNATURE hashes of a code),
  revocation_partition (the partition file format), revoked_hashes (the store and its lookup);
- business rules: certlogic (the bounded CertLogic evaluator) with certlogic_dates (its
  date-times), rules (what a rule is, which apply), rule_sources (the published artifacts, files),
  rule_check (evaluation, the RULES step);
- the CLI in __main__.
"""
