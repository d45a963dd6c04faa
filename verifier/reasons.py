"""The verifier's one vocabulary of refusals: every way verifying a health certificate
(``Reason``, per ``Step``) or a publication (``PublicationReason``) can fail, and the exceptions
that carry them.

The step names are those of the EU DCC test data's EXPECTED* flags (EXPECTEDUNPREFIX ...) where
one exists, so a result can be compared with a test case flag by flag. The publication reasons
are those docs/publication-format.md names; the business rules' (``RuleReason``) are those of
docs/verifier.md, "Business rules"; a partition of revoked DCC hashes' (``PartitionReason``)
those of docs/revocation-distribution.md. No value appears in two enums: a caller that stores or
compares reasons as text never confuses two refusals.
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
    REVOCATION = "REVOCATION"  # neither the signing DSC nor the DCC itself is revoked
    RULES = "RULES"  # the business rules of a country of arrival (only when one is asked for)


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
    TRUST_LIST_EXPIRED = "TRUST_LIST_EXPIRED"  # the trust list held is past its expiry (sync, or allow stale)
    KID_UNKNOWN = "KID_UNKNOWN"
    DSC_UNUSABLE = "DSC_UNUSABLE"  # the trust store's certificate cannot be parsed or fails its thumbprint
    KEY_ALG_MISMATCH = "KEY_ALG_MISMATCH"  # no DSC with the kid has a key for alg (e.g. P-384 under ES256)
    SIGNATURE_MALFORMED = "SIGNATURE_MALFORMED"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    # CLAIMS
    CLAIMS_MALFORMED = "CLAIMS_MALFORMED"
    CLAIM_INVALID = "CLAIM_INVALID"  # iss, iat or exp of the wrong type, or a time out of range
    ISSUER_COUNTRY_MISMATCH = "ISSUER_COUNTRY_MISMATCH"  # iss is not the signing DSC's country
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
    DCC_REVOKED = "DCC_REVOKED"  # one of the code's revocation hashes is listed (docs/revocation-distribution.md)
    # RULES (each rule's own outcome is a RuleReason)
    RULES_FAILED = "RULES_FAILED"  # a business rule of the country of arrival failed or could not be evaluated


class HcertError(Exception):
    """A step failed: ``reason`` names how, ``detail`` says more for a human."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class RuleReason(StrEnum):
    """How one business rule came out, or why a rule or value set given to the verifier was not
    taken (docs/verifier.md, "Business rules")."""

    RULE_PASSED = "RULE_PASSED"  # its logic evaluated truthy
    RULE_NOT_SATISFIED = "RULE_NOT_SATISFIED"  # its logic evaluated to something not truthy
    # The rule cannot be evaluated: it fails, by name
    CERTLOGIC_INVALID = "CERTLOGIC_INVALID"  # not a valid CertLogic expression (spec 1.3.3)
    CERTLOGIC_UNKNOWN_OPERATION = "CERTLOGIC_UNKNOWN_OPERATION"
    CERTLOGIC_TOO_DEEP = "CERTLOGIC_TOO_DEEP"  # nested deeper than verifier.certlogic.MAX_DEPTH
    CERTLOGIC_TOO_LARGE = "CERTLOGIC_TOO_LARGE"  # more nodes than verifier.certlogic.MAX_NODES
    CERTLOGIC_EVALUATION_ERROR = "CERTLOGIC_EVALUATION_ERROR"  # e.g. "in" on a non-array, a date that is none
    CERTLOGIC_BUDGET_EXCEEDED = "CERTLOGIC_BUDGET_EXCEEDED"  # more reduce steps than the evaluation may take
    ENGINE_UNSUPPORTED = "ENGINE_UNSUPPORTED"  # Engine is not CERTLOGIC, or EngineVersion's major is too new
    SCHEMA_VERSION_UNSUPPORTED = "SCHEMA_VERSION_UNSUPPORTED"  # the DCC's ver does not meet the rule's SchemaVersion
    # A rule or value set not taken at all (reported, never selected)
    RULE_UNREADABLE = "RULE_UNREADABLE"  # not JSON, or without the fields a rule must have
    RULE_MISMATCH = "RULE_MISMATCH"  # the published entry's metadata differ from the rule it carries
    VALUE_SET_UNREADABLE = "VALUE_SET_UNREADABLE"  # not a list of codes under a value set id


class CertLogicError(Exception):
    """A CertLogic expression cannot be compiled or evaluated: ``reason`` names why."""

    def __init__(self, reason: RuleReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class PublicationReason(StrEnum):
    """Why a published artifact, or a sync, is refused (docs/publication-format.md)."""

    # Reading and checking a JWS
    MALFORMED_JWS = "MALFORMED_JWS"  # not a readable compact JWS, or a plain file where a JWS must be
    ALGORITHM = "ALGORITHM"  # alg is not ES256
    KID_MISMATCH = "KID_MISMATCH"  # a kid is not the SHA-256 of the certificate it names
    UNTRUSTED_SIGNER = "UNTRUSTED_SIGNER"  # the publisher certificate is not issued by a pinned trust anchor
    SIGNER_EXPIRED = "SIGNER_EXPIRED"  # the publisher certificate is not valid at the verification time
    PUBLISHER_USAGE = "PUBLISHER_USAGE"  # issued by the anchor, but not for signing published trust data
    BAD_SIGNATURE = "BAD_SIGNATURE"
    UNANNOUNCED_KEY = "UNANNOUNCED_KEY"  # signed by a key the index (or the one held) does not announce
    # The index
    OVERSIZE = "OVERSIZE"  # more bytes than announced or allowed
    MALFORMED_INDEX = "MALFORMED_INDEX"  # a member of the index cannot be read
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"  # an index version this verifier does not know
    INDEX_EXPIRED = "INDEX_EXPIRED"  # the verification time is at or after expiresAt: a freeze
    FROM_THE_FUTURE = "FROM_THE_FUTURE"  # issuedAt more than 5 minutes ahead of the clock
    ROLLBACK = "ROLLBACK"  # a sequence, or full lists, older than those held
    EQUIVOCATION = "EQUIVOCATION"  # two different indexes of one sequence
    FORK = "FORK"  # the history held was rewritten
    MIX_AND_MATCH = "MIX_AND_MATCH"  # full lists of different sequences
    FULL_OUTSIDE_WINDOW = "FULL_OUTSIDE_WINDOW"  # no chain of deltas leads from the full lists to the index
    # The chains of deltas and spans
    DELTA_CHAIN = "DELTA_CHAIN"
    SPAN_CHAIN = "SPAN_CHAIN"
    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"  # asked to walk a chain that does not reach the sequence given
    # Each file the index or a chain names
    LENGTH_MISMATCH = "LENGTH_MISMATCH"
    HASH_MISMATCH = "HASH_MISMATCH"
    MALFORMED_PAYLOAD = "MALFORMED_PAYLOAD"  # not JSON, or an entry that cannot be read or restored
    WRONG_TYPE = "WRONG_TYPE"  # a payload of another type than expected
    SEQUENCE_MISMATCH = "SEQUENCE_MISMATCH"
    ENTRY_COUNT = "ENTRY_COUNT"  # a full list without the number of entries the index gives
    ENTRY_MISMATCH = "ENTRY_MISMATCH"  # an entry's thumbprint is not the SHA-256 of its certificate
    MALFORMED_DID = "MALFORMED_DID"
    # Sync only: the first three fall back to the full lists rather than refuse
    HTTP_ERROR = "HTTP_ERROR"  # any answer but 200
    SPAN_BUDGET = "SPAN_BUDGET"  # the spans left to walk weigh more than the full lists
    STATE_DIGEST = "STATE_DIGEST"  # the spans do not lead to the state the newest describes
    # Sync only, fetching (verifier.fetch): refused, never a fall back to the full lists, which
    # would come the same way
    DEADLINE = "DEADLINE"  # the sync's one time limit, over all its requests, passed
    BAD_URL = "BAD_URL"  # not an http(s) URL with a host
    UNREACHABLE = "UNREACHABLE"  # no HTTP answer: name, connection, TLS, or a connection that broke off
    BAD_CONTENT_LENGTH = "BAD_CONTENT_LENGTH"  # a Content-Length that is not one decimal number
    REDIRECT_REFUSED = "REDIRECT_REFUSED"  # out of http(s), from https down to http, a loop or too many


class VerificationError(Exception):
    """A published artifact, or a sync, is refused: ``reason`` names why, ``detail`` says more."""

    def __init__(self, reason: PublicationReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class PartitionReason(StrEnum):
    """Why a partition of revoked DCC hashes is refused (docs/revocation-distribution.md)."""

    PARTITION_TRUNCATED = "PARTITION_TRUNCATED"  # shorter than its header, or than its counts announce
    PARTITION_TRAILING_DATA = "PARTITION_TRAILING_DATA"  # longer than its counts announce
    PARTITION_BAD_MAGIC = "PARTITION_BAD_MAGIC"  # not this format, or a version this verifier does not know
    PARTITION_BAD_COUNTRY = "PARTITION_BAD_COUNTRY"  # not two ASCII capital letters
    PARTITION_UNSORTED = "PARTITION_UNSORTED"  # a run of records out of ascending order
    PARTITION_DUPLICATE = "PARTITION_DUPLICATE"  # a record twice in one run
    PARTITION_BAD_RANGE = "PARTITION_BAD_RANGE"  # an empty range of first bytes, or a record outside it
    PARTITION_CONFLICT = "PARTITION_CONFLICT"  # two partitions of one group overlap, or two groups are one
    PARTITION_GAP = "PARTITION_GAP"  # a group's partitions leave first bytes uncovered
    PARTITION_MISMATCH = "PARTITION_MISMATCH"  # a partition is not the one its listing names (hash, length, group)


class PartitionError(Exception):
    """A partition of revoked hashes is refused: ``reason`` names why, ``detail`` says more."""

    def __init__(self, reason: PartitionReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail
