"""Names of the verification steps of a health certificate and of every way one can fail.

The step names are those of the EU DCC test data's EXPECTED* flags (EXPECTEDUNPREFIX ...) where
one exists, so a result can be compared with a test case flag by flag.
"""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    PICTUREDECODE = "PICTUREDECODE"  # QR image -> text (only when verifying an image)
    UNPREFIX = "UNPREFIX"  # "HC1:" context identifier
    B45DECODE = "B45DECODE"  # Base45 (RFC 9285)
    COMPRESSION = "COMPRESSION"  # zlib inflate, size capped
    COSE = "COSE"  # CBOR -> COSE_Sign1, alg and kid
    VERIFY = "VERIFY"  # signature against the DSCs carrying the kid
    CLAIMS = "CLAIMS"  # CWT claims and the hcert payload
    EXPIRATIONCHECK = "EXPIRATIONCHECK"  # iat/exp against the clock, DSC validity policy
    KEYUSAGE = "KEYUSAGE"  # DSC extended key usage against the certificate type
    REVOCATION = "REVOCATION"  # the signing DSC is not revoked


class Status(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # not evaluated: an earlier step failed or its input is missing


class Reason(StrEnum):
    OK = "OK"
    # Steps that could not run.
    NOT_REACHED = "NOT_REACHED"  # an earlier step failed
    NO_VERIFIED_DSC = "NO_VERIFIED_DSC"  # the check needs the DSC whose signature verified
    # PICTUREDECODE
    IMAGE_INVALID = "IMAGE_INVALID"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    QR_UNREADABLE = "QR_UNREADABLE"
    # UNPREFIX
    INPUT_TOO_LARGE = "INPUT_TOO_LARGE"
    PREFIX_MISSING = "PREFIX_MISSING"
    PREFIX_UNSUPPORTED_VERSION = "PREFIX_UNSUPPORTED_VERSION"  # HC2: ... HCZ:, a future format
    # B45DECODE
    BASE45_INVALID_CHARACTER = "BASE45_INVALID_CHARACTER"
    BASE45_INVALID_LENGTH = "BASE45_INVALID_LENGTH"
    BASE45_VALUE_OUT_OF_RANGE = "BASE45_VALUE_OUT_OF_RANGE"
    # COMPRESSION
    COMPRESSION_NOT_ZLIB = "COMPRESSION_NOT_ZLIB"
    COMPRESSION_CORRUPT = "COMPRESSION_CORRUPT"
    COMPRESSION_TRUNCATED = "COMPRESSION_TRUNCATED"
    COMPRESSION_TOO_LARGE = "COMPRESSION_TOO_LARGE"
    # COSE
    CBOR_MALFORMED = "CBOR_MALFORMED"
    CBOR_TRAILING_DATA = "CBOR_TRAILING_DATA"
    COSE_UNSUPPORTED_TAG = "COSE_UNSUPPORTED_TAG"
    COSE_NOT_SIGN1 = "COSE_NOT_SIGN1"
    COSE_HEADER_MALFORMED = "COSE_HEADER_MALFORMED"
    COSE_CRITICAL_HEADER = "COSE_CRITICAL_HEADER"
    COSE_DETACHED_PAYLOAD = "COSE_DETACHED_PAYLOAD"
    ALG_MISSING = "ALG_MISSING"
    ALG_UNSUPPORTED = "ALG_UNSUPPORTED"
    KID_MISSING = "KID_MISSING"
    # VERIFY
    KID_UNKNOWN = "KID_UNKNOWN"
    DSC_UNUSABLE = "DSC_UNUSABLE"  # the trust store's certificate cannot be parsed or fails its thumbprint
    KEY_ALG_MISMATCH = "KEY_ALG_MISMATCH"  # no DSC with the kid has a key for alg (e.g. P-384 under ES256)
    SIGNATURE_MALFORMED = "SIGNATURE_MALFORMED"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    # CLAIMS
    CLAIMS_MALFORMED = "CLAIMS_MALFORMED"
    CLAIM_INVALID = "CLAIM_INVALID"  # iss, iat or exp of the wrong type
    HCERT_MISSING = "HCERT_MISSING"
    PAYLOAD_TYPE_MISSING = "PAYLOAD_TYPE_MISSING"  # none of v, t, r
    PAYLOAD_TYPE_AMBIGUOUS = "PAYLOAD_TYPE_AMBIGUOUS"  # more than one of v, t, r
    # EXPIRATIONCHECK
    IAT_MISSING = "IAT_MISSING"
    EXP_MISSING = "EXP_MISSING"
    NOT_YET_VALID = "NOT_YET_VALID"  # clock before iat
    EXPIRED = "EXPIRED"  # clock after exp
    DSC_NOT_VALID_AT_ISSUANCE = "DSC_NOT_VALID_AT_ISSUANCE"  # iat outside the DSC's validity
    DSC_NOT_YET_VALID = "DSC_NOT_YET_VALID"  # clock before the DSC's notBefore
    DSC_EXPIRED = "DSC_EXPIRED"  # clock after the DSC's notAfter
    EXP_AFTER_DSC_EXPIRY = "EXP_AFTER_DSC_EXPIRY"  # exp beyond the DSC's notAfter (strict policy only)
    # KEYUSAGE
    KEY_USAGE_MISMATCH = "KEY_USAGE_MISMATCH"
    # REVOCATION
    DSC_REVOKED = "DSC_REVOKED"


class HcertError(Exception):
    """A step failed: ``reason`` names how, ``detail`` says more for a human."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail
