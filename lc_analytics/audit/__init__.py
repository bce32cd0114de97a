"""The production checklist (issue 16), checked against the account through the API.

Each item answers pass, fail or "cannot tell", with the evidence it saw: the Stream webhook
URL, a live-input notifications policy, a billing alert (or budgets with alert delivery),
recording retention, lifecycle rules on export buckets, storage runway, a recent sync, and
the token's scope. `lc-analytics audit [--json]` prints it; the cost review shows the latest
recorded run.

>>> report = run_audit(Settings.from_env())                           # doctest: +SKIP
>>> report.status("stream_webhook")                                   # doctest: +SKIP
'pass'
"""

from .checks import FAIL, NEEDED_GROUPS, PASS, RETENTION_REASON_KEY, UNKNOWN, Check
from .run import AuditReport, record_audit, run_audit

__all__ = ["FAIL", "NEEDED_GROUPS", "PASS", "RETENTION_REASON_KEY", "UNKNOWN", "AuditReport",
           "Check", "record_audit", "run_audit"]
