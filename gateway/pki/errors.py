"""Named rejection reasons raised by the pure PKI layer.

Every check in :mod:`gateway.pki` fails by raising :class:`Rejected` with a stable
:class:`Reason`; the HTTP layer maps reasons to DGCG problem codes, and the audit log
records the reason name. Nothing else escapes from the parsers.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    # --- transport / CMS structure (DGCG converter errors, 0x402) ---
    INVALID_BASE64 = "INVALID_BASE64"
    CMS_PARSE = "CMS_PARSE"
    CMS_NOT_SIGNED_DATA = "CMS_NOT_SIGNED_DATA"
    CMS_CONTENT_TYPE = "CMS_CONTENT_TYPE"
    CMS_DETACHED = "CMS_DETACHED"
    CMS_UNEXPECTED_CONTENT = "CMS_UNEXPECTED_CONTENT"
    CMS_CERTIFICATE_COUNT = "CMS_CERTIFICATE_COUNT"
    CMS_SIGNER_COUNT = "CMS_SIGNER_COUNT"
    CMS_PAYLOAD_NOT_CERTIFICATE = "CMS_PAYLOAD_NOT_CERTIFICATE"
    # --- CMS signature (DGCG 0x009) ---
    CMS_SIGNER_MISMATCH = "CMS_SIGNER_MISMATCH"
    CMS_MISSING_ATTRIBUTES = "CMS_MISSING_ATTRIBUTES"
    CMS_CONTENT_TYPE_ATTRIBUTE = "CMS_CONTENT_TYPE_ATTRIBUTE"
    CMS_MESSAGE_DIGEST = "CMS_MESSAGE_DIGEST"
    CMS_ALGORITHM = "CMS_ALGORITHM"
    CMS_DIGEST_SHA1 = "CMS_DIGEST_SHA1"  # a SHA-1 digest: relaxable (GATEWAY_POLICY_CMS_ALLOW_SHA1)
    CMS_NO_SIGNED_ATTRIBUTES = "CMS_NO_SIGNED_ATTRIBUTES"  # RFC 5652 §5.4 form: relaxable
    CMS_SIGNATURE_INVALID = "CMS_SIGNATURE_INVALID"
    # --- DGCG content checks (0x004 / 0x007) ---
    UPLOAD_CERT_UNKNOWN = "UPLOAD_CERT_UNKNOWN"
    UPLOAD_CERT_EXPIRED = "UPLOAD_CERT_EXPIRED"  # the CMS signer's validity has ended (ours)
    UPLOAD_CERT_NOT_YET_VALID = "UPLOAD_CERT_NOT_YET_VALID"  # ... or not begun (ours)
    COUNTRY_MISSING = "COUNTRY_MISSING"
    COUNTRY_MULTIPLE = "COUNTRY_MULTIPLE"
    COUNTRY_MISMATCH = "COUNTRY_MISMATCH"
    CSCA_LIST_EMPTY = "CSCA_LIST_EMPTY"
    NOT_SIGNED_BY_CSCA = "NOT_SIGNED_BY_CSCA"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    ALREADY_REVOKED = "ALREADY_REVOKED"
    KID_EXISTS = "KID_EXISTS"
    NOT_FOUND = "NOT_FOUND"
    REVOCATION_NOT_FRESH = "REVOCATION_NOT_FRESH"  # a replayed or older signature revokes (ours)
    # --- policy checks DGCG lacks (each relaxable by a setting) ---
    SERIAL_POLICY = "SERIAL_POLICY"
    UNKNOWN_CRITICAL_EXTENSION = "UNKNOWN_CRITICAL_EXTENSION"
    VALIDITY_ORDER = "VALIDITY_ORDER"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    KEY_POLICY = "KEY_POLICY"
    SIGNATURE_ALGORITHM = "SIGNATURE_ALGORITHM"
    DSC_IS_CA = "DSC_IS_CA"
    SELF_SIGNED = "SELF_SIGNED"
    CERTIFICATE_PARSE = "CERTIFICATE_PARSE"
    CERTIFICATE_ENCODING = "CERTIFICATE_ENCODING"  # parses, but breaks DER or RFC 5280's encoding rules
    # --- TNG /trustedCertificate request checks ---
    GROUP_NOT_ALLOWED = "GROUP_NOT_ALLOWED"
    DOMAIN_NOT_ALLOWED = "DOMAIN_NOT_ALLOWED"
    PROPERTY_NOT_ALLOWED = "PROPERTY_NOT_ALLOWED"
    INVALID_KID = "INVALID_KID"
    # --- business rules (DGCG's ValidationRuleService, 0x200-0x270; then ours) and value sets ---
    RULE_NOT_JSON = "RULE_NOT_JSON"
    RULE_SCHEMA = "RULE_SCHEMA"
    RULE_TOO_COMPLEX = "RULE_TOO_COMPLEX"  # nesting or size beyond what a verifier evaluates (ours)
    RULE_ID_TYPE_MISMATCH = "RULE_ID_TYPE_MISMATCH"  # the Identifier's prefix is not the CertificateType's
    RULE_ID_INVALIDATION = "RULE_ID_INVALIDATION"  # IR- if and only if Type is Invalidation
    RULE_COUNTRY = "RULE_COUNTRY"  # Country is not the authenticated country
    RULE_ID_COUNTRY = "RULE_ID_COUNTRY"  # the Identifier's country is not the authenticated country
    RULE_VERSION = "RULE_VERSION"  # not above the latest version stored
    RULE_VALIDITY_ORDER = "RULE_VALIDITY_ORDER"  # ValidTo not after ValidFrom
    RULE_STARTS_TOO_LATE = "RULE_STARTS_TOO_LATE"  # ValidFrom more than 2 weeks ahead
    RULE_STARTS_TOO_SOON = "RULE_STARTS_TOO_SOON"  # Acceptance: under 48 h ahead; Invalidation: in the past
    RULE_VALIDITY_TOO_SHORT = "RULE_VALIDITY_TOO_SHORT"  # valid for less than 72 h
    RULE_STARTS_BEFORE_PREVIOUS = "RULE_STARTS_BEFORE_PREVIOUS"  # ValidFrom before the previous version's
    RULE_ENGINE = "RULE_ENGINE"  # not CERTLOGIC, or an engine version verifiers do not evaluate (ours)
    RULE_LOGIC_INVALID = "RULE_LOGIC_INVALID"  # Logic is not valid CertLogic (ours)
    RULE_AFFECTED_FIELDS = "RULE_AFFECTED_FIELDS"  # AffectedFields are not the fields Logic reads (ours)
    RULE_ID_INVALID = "RULE_ID_INVALID"  # a deletion names no rule identifier
    RULE_NOT_FOUND = "RULE_NOT_FOUND"
    VALUESET_INVALID = "VALUESET_INVALID"
    VALUESET_NOT_FOUND = "VALUESET_NOT_FOUND"
    # --- revocation batches (DGCG's RevocationListController: 0x000, or 0x260 for the CMS) ---
    REVOCATION_NOT_JSON = "REVOCATION_NOT_JSON"  # not JSON, not an object, or trailing tokens
    REVOCATION_SCHEMA = "REVOCATION_SCHEMA"  # a field missing or of the wrong type (RevocationBatchDto)
    REVOCATION_COUNTRY = "REVOCATION_COUNTRY"  # country is not the authenticated country (403)
    REVOCATION_EXPIRED = "REVOCATION_EXPIRED"  # expires not in the future (DGCG #157; TNG lacks it)
    REVOCATION_ENTRY_COUNT = "REVOCATION_ENTRY_COUNT"  # not 1 to 1,000 entries
    REVOCATION_HASH_INVALID = "REVOCATION_HASH_INVALID"  # a hash is not base64 of exactly 16 bytes
    REVOCATION_HASH_DUPLICATE = "REVOCATION_HASH_DUPLICATE"  # one hash twice in a batch (ours)
    REVOCATION_HASH_TYPE = "REVOCATION_HASH_TYPE"  # missing or not UCI/SIGNATURE/COUNTRYCODEUCI (DGCG: 500)
    REVOCATION_KID_UNKNOWN = "REVOCATION_KID_UNKNOWN"  # not a DSC kid of the country, nor UNKNOWN_KID (ours)
    REVOCATION_BATCH_ID_INVALID = "REVOCATION_BATCH_ID_INVALID"  # a deletion's payload names no batch id
    REVOCATION_BATCH_NOT_FOUND = "REVOCATION_BATCH_NOT_FOUND"  # 404 "Batch does not exist."
    REVOCATION_BATCH_DELETED = "REVOCATION_BATCH_DELETED"  # 410 "Batch already deleted."
    REVOCATION_BATCH_COUNTRY = "REVOCATION_BATCH_COUNTRY"  # another country's batch (403)
    REVOCATION_SINCE_MISSING = "REVOCATION_SINCE_MISSING"  # GET /revocation-list without If-Modified-Since
    REVOCATION_SINCE_FUTURE = "REVOCATION_SINCE_FUTURE"  # If-Modified-Since in the future
    # --- CMS migration: re-signing what an UPLOAD key signed (DGCG's /cms-migration) ---
    MIGRATION_NOT_FOUND = "MIGRATION_NOT_FOUND"  # no such entity of that type (409 0x010/0x020/0x030)
    MIGRATION_WITHDRAWN = "MIGRATION_WITHDRAWN"  # a revoked DSC or a deleted batch: nothing published to re-sign (409)
    MIGRATION_COUNTRY = "MIGRATION_COUNTRY"  # another country's entity (400 0x004/0x021/0x031)
    MIGRATION_PAYLOAD_MISMATCH = "MIGRATION_PAYLOAD_MISMATCH"  # the new CMS signs other bytes (DSC too: ours)
    MIGRATION_NOT_FRESH = "MIGRATION_NOT_FRESH"  # signed before the stored CMS: an older one replayed (ours)
    # --- TNG trusted references (references/: TNG's TrustedReferenceController, code 0x000) ---
    REFERENCE_NOT_JSON = "REFERENCE_NOT_JSON"  # not UTF-8 JSON, not an object, trailing tokens, a key twice
    REFERENCE_SCHEMA = "REFERENCE_SCHEMA"  # a field missing, not a string, or not one of its values (type, ...)
    REFERENCE_FIELD_LENGTH = "REFERENCE_FIELD_LENGTH"  # a field empty or longer than TNG's bound
    REFERENCE_FIELD_CHARACTERS = "REFERENCE_FIELD_CHARACTERS"  # a control character, lone surrogate, bidi control
    REFERENCE_URL_INVALID = "REFERENCE_URL_INVALID"  # not an absolute http(s) URL with a host (javascript:, ...)
    REFERENCE_THUMBPRINT_INVALID = "REFERENCE_THUMBPRINT_INVALID"  # not hex (ours; TNG takes any text)
    REFERENCE_DOMAIN_INVALID = "REFERENCE_DOMAIN_INVALID"  # not 1 to 32 of [A-Za-z0-9._-] (ours)
    REFERENCE_UUID_INVALID = "REFERENCE_UUID_INVALID"  # a uuid (payload or path) that is not a lower-case UUID
    REFERENCE_COUNTRY = "REFERENCE_COUNTRY"  # country is not the authenticated country (403)
    REFERENCE_NOT_FOUND = "REFERENCE_NOT_FOUND"  # no reference has that uuid
    REFERENCE_OTHER_COUNTRY = "REFERENCE_OTHER_COUNTRY"  # another country's reference: update or deletion (403)
    # --- federation: a peer's entry (federation.statements) and its sync ---
    PEER_ID_INVALID = "PEER_ID_INVALID"  # not 1 to 64 of [A-Za-z0-9._:-], or this gateway's own id
    PEER_EXISTS = "PEER_EXISTS"  # a peer with that id is configured already
    PEER_NOT_FOUND = "PEER_NOT_FOUND"
    PEER_ENDPOINT_INVALID = "PEER_ENDPOINT_INVALID"  # not an http(s) URL with a host
    PEER_TRUST_ANCHOR_INVALID = "PEER_TRUST_ANCHOR_INVALID"  # not one PEM certificate
    PEER_SIGNATURE_INVALID = "PEER_SIGNATURE_INVALID"  # not a detached CMS over the peer's statement
    PEER_SIGNER_UNKNOWN = "PEER_SIGNER_UNKNOWN"  # signed, but not by a configured trust anchor
    PEER_BUSY = "PEER_BUSY"  # another worker is syncing this peer
    PEER_STATE_INVALID = "PEER_STATE_INVALID"  # the peer's content cannot be imported (a malformed entry)
    PEER_LIST_INVALID = "PEER_LIST_INVALID"  # a TNG/DGCG peer's list (or offline export) cannot be read
    PEER_ENTRY_INVALID = "PEER_ENTRY_INVALID"  # an entry its signatures do not vouch for: the list is refused
    # --- trusted issuers (issuers.services; the trust anchor's signature: issuers.signatures) ---
    ISSUER_URL_INVALID = "ISSUER_URL_INVALID"  # HTTP: not an http(s) URL with a host; DID: not did: syntax
    ISSUER_TYPE_INVALID = "ISSUER_TYPE_INVALID"  # not HTTP or DID
    ISSUER_FIELD_INVALID = "ISSUER_FIELD_INVALID"  # a name, thumbprint, key or storage type out of bounds
    ISSUER_SIGNATURE_INVALID = "ISSUER_SIGNATURE_INVALID"  # not a detached CMS over either signed string
    ISSUER_SIGNER_UNKNOWN = "ISSUER_SIGNER_UNKNOWN"  # signed, but not by a configured trust anchor
    ISSUER_EXISTS = "ISSUER_EXISTS"  # the country has an issuer of this URL and type already
    ISSUER_NOT_FOUND = "ISSUER_NOT_FOUND"
    # --- trust anchor integrity of onboarded entries ---
    THUMBPRINT_MISMATCH = "THUMBPRINT_MISMATCH"
    TA_SIGNATURE_INVALID = "TA_SIGNATURE_INVALID"
    TA_SIGNER_UNKNOWN = "TA_SIGNER_UNKNOWN"
    # --- onboarding ---
    INVALID_COUNTRY = "INVALID_COUNTRY"
    INVALID_STATE = "INVALID_STATE"
    INVALID_CERTIFICATE_TYPE = "INVALID_CERTIFICATE_TYPE"
    # --- publisher keys ---
    PUBLISHER_KEY_MISMATCH = "PUBLISHER_KEY_MISMATCH"
    PUBLISHER_USAGE = "PUBLISHER_USAGE"  # not certified for signing published trust data
    # --- the client's identity (countries.identity; DGCG 0x400-0x403) ---
    MISSING_CLIENT_IDENTITY = "MISSING_CLIENT_IDENTITY"
    CLIENT_COUNTRY_MISSING = "CLIENT_COUNTRY_MISSING"
    CLIENT_NOT_ONBOARDED = "CLIENT_NOT_ONBOARDED"
    CLIENT_FEDERATED = "CLIENT_FEDERATED"
    CLIENT_CERT_EXPIRED = "CLIENT_CERT_EXPIRED"
    ROLE_MISSING = "ROLE_MISSING"
    # --- a person's admin login (countries.login: one answer whichever part was wrong) ---
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGIN_LOCKED = "LOGIN_LOCKED"
    LOGIN_THROTTLED = "LOGIN_THROTTLED"
    # --- the request itself (HTTP layer: middleware, views, the exception handler) ---
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    BAD_CONTENT_LENGTH = "BAD_CONTENT_LENGTH"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    MALFORMED_BODY = "MALFORMED_BODY"
    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_TYPE = "INVALID_TYPE"
    INVALID_PAGING = "INVALID_PAGING"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    INVALID_DATE = "INVALID_DATE"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    REQUEST_ERROR = "REQUEST_ERROR"
    NO_SUCH_ENDPOINT = "NO_SUCH_ENDPOINT"
    NOT_AN_AUDITOR = "NOT_AN_AUDITOR"
    # A path no route names: control characters, not UTF-8 (countries.paths, before any view).
    INVALID_PATH = "INVALID_PATH"
    # A path longer than any route's (countries.paths), or a request line or header longer than
    # nginx reads (docker/nginx): 414, RFC 9110 §15.5.15.
    URI_TOO_LONG = "URI_TOO_LONG"
    # --- what nginx answers itself, in the gateway's problem format (docker/nginx) ---
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    RATE_LIMITED = "RATE_LIMITED"
    BAD_CLIENT_CERTIFICATE = "BAD_CLIENT_CERTIFICATE"
    # --- public reads that find nothing (not refusals of a client: not audited) ---
    NOT_PUBLISHED = "NOT_PUBLISHED"
    NO_CHECKPOINT = "NO_CHECKPOINT"
    # --- the gateway's own failures (5xx) ---
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class Rejected(Exception):
    """A check failed. ``detail`` is a human-readable explanation for the problem report."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail or str(reason)


# CMS bodies: what dgc-lib's converter refuses before any signature check (DGCG's and TNG's 400
# 0x402), and what a parsed message fails by when its signature does not hold.
CMS_STRUCTURE_REASONS = frozenset(
    {
        Reason.INVALID_BASE64,
        Reason.CMS_PARSE,
        Reason.CMS_NOT_SIGNED_DATA,
        Reason.CMS_CONTENT_TYPE,
        Reason.CMS_DETACHED,
        Reason.CMS_UNEXPECTED_CONTENT,
        Reason.CMS_CERTIFICATE_COUNT,
        Reason.CMS_SIGNER_COUNT,
        Reason.CMS_PAYLOAD_NOT_CERTIFICATE,
        Reason.CERTIFICATE_PARSE,
    }
)
CMS_SIGNATURE_REASONS = frozenset(
    {
        Reason.CMS_SIGNER_MISMATCH,
        Reason.CMS_MISSING_ATTRIBUTES,
        Reason.CMS_CONTENT_TYPE_ATTRIBUTE,
        Reason.CMS_MESSAGE_DIGEST,
        Reason.CMS_ALGORITHM,
        Reason.CMS_DIGEST_SHA1,
        Reason.CMS_NO_SIGNED_ATTRIBUTES,
        Reason.CMS_SIGNATURE_INVALID,
    }
)
