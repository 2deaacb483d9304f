"""Fill a Gatekey database fast for the scale benchmarks, and give each its own PostgreSQL.

Rows are sealed with the runtime's own vault (each bound to its project and id, as the service
does) and inserted in batches; one connection made through the service is the template, so
every column holds what the service would have written.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, insert, make_url, select, text

from gatekey import ids
from gatekey.domain.connection import name_key
from gatekey.runtime import Runtime
from gatekey.service import Actor
from gatekey.store.tables import connections, projects

APPS = ("sendgrid", "stripe", "anthropic", "resend", "notion")


def seed(runtime: Runtime, projects_count: int, per_project: int, batch: int = 5000) -> list[str]:
    """Create ``projects_count`` projects of ``per_project`` API-key connections each (every
    tenth inactive, five apps); return the project ids."""
    service = runtime.service
    template_project = service.system.create_project(f"template-{uuid.uuid4().hex[:8]}")
    made = service.connections.create(
        Actor.operator(template_project.id),
        app="sendgrid",
        name="template",
        fields={"api_key": "SG.template.value"},
        validate=False,
    )
    with runtime.db.read() as conn:
        template = dict(
            conn.execute(select(connections).where(connections.c.id == made.id)).one()._mapping
        )
        project_template = dict(
            conn.execute(select(projects).where(projects.c.id == template_project.id))
            .one()
            ._mapping
        )
    project_ids: list[str] = []
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        with runtime.db.write() as conn:
            conn.execute(insert(connections), rows)
        rows.clear()

    for p in range(projects_count):
        project_id = ids.new_id("proj")
        with runtime.db.write() as conn:
            conn.execute(
                insert(projects),
                [{**project_template, "id": project_id, "name": f"bench {p} {project_id[-6:]}"}],
            )
        project_ids.append(project_id)
        for n in range(per_project):
            cid = ids.new_id("conn")
            app = APPS[n % len(APPS)]
            box = runtime.service.context.vault.seal(
                project_id, cid, {"api_key": f"key-{p}-{n}-secret"}
            )
            name = f"{app} {n}"
            rows.append(
                {
                    **template,
                    "id": cid,
                    "project_id": project_id,
                    "app_key": app,
                    "name": name,
                    "name_key": name_key(name),
                    "is_default": n < len(APPS),
                    "status": "inactive" if n % 10 == 9 else "active",
                    "status_reason": "invalid_credentials" if n % 10 == 9 else None,
                    "public_fields": {"api_key": "••••cret"},
                    "secret_ciphertext": box.ciphertext,
                    "dek_wrapped": box.wrapped_key,
                    "kek_id": box.key_id,
                }
            )
            if len(rows) >= batch:
                flush()
    if rows:
        flush()
    return project_ids


def databases() -> Iterator[tuple[str, str]]:
    """Yield (url, label): SQLite in a new directory, then PostgreSQL if ``GATEKEY_BENCH_PG``
    is set (a database of its own, dropped when the loop moves past it)."""
    home = tempfile.mkdtemp(prefix="gk-bench-sqlite-")
    yield f"sqlite:///{home}/gatekey.db", "SQLite"
    with postgres_database() as pg:
        if pg:
            yield pg, "PostgreSQL"


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh database on ``GATEKEY_BENCH_PG`` (dropped afterwards), or None if it is unset."""
    base_url = os.environ.get("GATEKEY_BENCH_PG")
    if not base_url:
        yield None
        return
    base = make_url(base_url)
    name = f"gatekey_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
