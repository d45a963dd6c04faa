"""Named refusals of ``/cms-migration`` as DGCG's problem reports (its CertificateMigrationController):
a CMS that cannot be read or does not verify is 0x260; an entity that does not exist is 409 with its
type's code (0x010 DSC, 0x020 revocation batch, 0x030 rule); another country's is 0x021/0x031, a
payload that differs 0x022/0x032 (for a DSC, whose payload DGCG does not compare, 0x004 with the
reason); every other check 0x004 (docs/api.md, "CMS migration")."""

from __future__ import annotations

from gateway.pki.errors import Reason, Rejected
from gateway.problems import Problem
from migration.services import EntityType
from trustlist.api.problems import CHECK_FAILED_TEXT, CONVERTER, SIGNATURE

_MISSING = {
    EntityType.DSC: ("0x010", "Certificate to be updated does not exist."),
    EntityType.REVOCATION_LIST: ("0x020", "RevocationBatch to be updated does not exist."),
    EntityType.VALIDATION_RULE: ("0x030", "ValidationRule to be updated does not exist."),
}
_BY_TYPE: dict[Reason, dict[EntityType, tuple[str, str]]] = {
    Reason.MIGRATION_COUNTRY: {
        EntityType.REVOCATION_LIST: ("0x021", "Invalid country"),
        EntityType.VALIDATION_RULE: ("0x031", "Invalid country"),
    },
    Reason.MIGRATION_PAYLOAD_MISMATCH: {
        EntityType.REVOCATION_LIST: ("0x022", "Json Payload invalid"),
        EntityType.VALIDATION_RULE: ("0x032", "Json Payload invalid"),
    },
}


def migration_problem(exc: Rejected, *, entity_type: EntityType, entity_id: int, country: str) -> Problem:
    send_value = f"type:{entity_type} entityId:{entity_id} country:{country}"
    if exc.reason in CONVERTER or exc.reason in SIGNATURE:
        return Problem(400, "0x260", "CMS signature is invalid", details=exc.detail, reason=exc.reason)
    if exc.reason in (Reason.MIGRATION_NOT_FOUND, Reason.MIGRATION_WITHDRAWN):
        code, problem = _MISSING[entity_type]
        return Problem(409, code, problem, send_value=send_value, details=exc.detail, reason=exc.reason)
    code, problem = _BY_TYPE.get(exc.reason, {}).get(entity_type, ("0x004", CHECK_FAILED_TEXT))
    return Problem(400, code, problem, send_value=send_value, details=exc.detail, reason=exc.reason)
