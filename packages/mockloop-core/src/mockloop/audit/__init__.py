"""The audit trail: one hash-chained record per operation call, whichever face made it.

Faces (the MCP server, the LangChain and CrewAI adapters) wrap their calls in
`using_face("mcp", session_id=...)`; plain Python calls are recorded as face "python".
Arguments are redacted (`redact_arguments`) before they are stored. A call refused at argument
validation never reaches the operation: the face that refused it records it
(`record_rejected`, outcome "invalid"). A failure to write the
trail never fails the operation: it is logged and counted (`audit_failures()`).
"""

from mockloop.audit.context import current_face, using_face
from mockloop.audit.recorder import audit_failures, record_call, record_rejected
from mockloop.audit.redaction import redact_arguments
from mockloop.audit.store import AuditStore, AuditVerification

__all__ = [
    "AuditStore",
    "AuditVerification",
    "audit_failures",
    "current_face",
    "record_call",
    "record_rejected",
    "redact_arguments",
    "using_face",
]
