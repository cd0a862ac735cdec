"""What licensewatch remembers between runs: runs, findings history, resource state.

SQLAlchemy models and Alembic migrations that work the same on SQLite (the
embedded default) and PostgreSQL. Typical use, one transaction per run::

    engine = store.open_engine(settings.database_url)
    store.upgrade(engine)
    with Session(engine) as session:
        run_id = store.start_run(session, as_of=..., started_at=..., dry_run=False)
        ...
        store.finish_run(session, run_id, status="ok", ...)
        session.commit()
"""

from __future__ import annotations

from licensewatch.store.db import (
    check_schema,
    head_revision,
    model_metadata,
    open_engine,
    safe_url,
    schema_revision,
    session_factory,
    storage_errors,
    upgrade,
    upgrade_in,
)
from licensewatch.store.lock import run_lock
from licensewatch.store.registrations import load_history, save_history
from licensewatch.store.renewals import record_renewal_notices, sent_renewal_notices
from licensewatch.store.repository import (
    STORED_FINDINGS,
    RunRecord,
    findings_of_run,
    finish_run,
    last_good_run,
    list_runs,
    save_findings,
    start_run,
)
from licensewatch.store.state import (
    STATE,
    absent_since_last_run,
    load_state,
    mark_removed,
    update_state,
)
from licensewatch.store.tables import RunStatus, UTCDateTime

__all__ = [
    "STATE",
    "STORED_FINDINGS",
    "RunRecord",
    "RunStatus",
    "UTCDateTime",
    "absent_since_last_run",
    "check_schema",
    "findings_of_run",
    "finish_run",
    "head_revision",
    "last_good_run",
    "list_runs",
    "load_history",
    "load_state",
    "mark_removed",
    "model_metadata",
    "open_engine",
    "record_renewal_notices",
    "run_lock",
    "safe_url",
    "save_findings",
    "save_history",
    "schema_revision",
    "sent_renewal_notices",
    "session_factory",
    "start_run",
    "storage_errors",
    "update_state",
    "upgrade",
    "upgrade_in",
]
