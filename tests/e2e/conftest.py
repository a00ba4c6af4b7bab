"""pytest fixtures for preflight's end-to-end tests.

- `pg`: one throwaway PostgreSQL cluster for the session, started by this code (see pgharness.py),
  with pg_hba rules for trust (postgres), rejection (role `rejected`) and passwords (role `app`);
- `db`: a fresh database per test, dropped afterwards;
- `preflight`: runs the binary named by PREFLIGHT_BIN (default build/preflight) with a clean
  environment and returns exit status, stdout, stderr and duration;
- `pgbouncer`: pgbouncer in transaction pooling mode in front of `pg`;
- `manifest`: writes a manifest (and files beside it) into the test's tmp_path.

When a test fails, the lines the server logged during it are added to the report.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import uuid
from pathlib import Path

import pytest

import pgharness
from pgharness import Database, PgBouncer, PgCluster, run_preflight

APP_PASSWORD = "Sup3r-s3cret_pw9x"   # distinctive, so finding it in any output means a leak
DATA = Path(__file__).resolve().parents[1] / "data" / "e2e"

HBA = """\
# TYPE  DATABASE USER      ADDRESS        METHOD
local   all      all                      trust
host    all      postgres  127.0.0.1/32   trust
host    all      rejected  127.0.0.1/32   reject
host    all      all       127.0.0.1/32   scram-sha-256
"""

SANITIZE = os.environ.get("PREFLIGHT_SANITIZE", "").upper() in ("ON", "1", "TRUE", "YES")


def pytest_configure(config):
    config.addinivalue_line("markers", "valgrind: runs preflight under valgrind (skipped with "
                                       "PREFLIGHT_SANITIZE=ON or without valgrind)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_collection_modifyitems(config, items):
    skip = None
    if SANITIZE:
        skip = pytest.mark.skip(reason="PREFLIGHT_SANITIZE=ON: valgrind cannot run ASan binaries")
    elif shutil.which("valgrind") is None:
        skip = pytest.mark.skip(reason="valgrind is not installed")
    if skip:
        for item in items:
            if "valgrind" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def pg():
    cluster = PgCluster(hba=HBA).init()
    try:
        cluster.start()
        cluster.psql(f"""
            CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}';
            CREATE ROLE rejected LOGIN PASSWORD '{APP_PASSWORD}';
        """)
        yield cluster
    finally:
        cluster.destroy()


_current = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        cluster = _current.get("cluster")
        offset = _current.get("log_offset", 0)
        if cluster is not None:
            text = cluster.log_since(offset).splitlines()
            if len(text) > 80:
                text = [f"... ({len(text) - 80} earlier lines)"] + text[-80:]
            if text:
                rep.sections.append(("server log during this test", "\n".join(text)))
            else:
                rep.sections.append(("server log tail (nothing logged during this test)",
                                     cluster.log_tail(20)))
        bouncer = _current.get("bouncer")
        if bouncer is not None:
            rep.sections.append(("pgbouncer log tail", bouncer.log_tail()))


@pytest.fixture(autouse=True)
def _track_server_log(request):
    if "pg" in request.fixturenames or "db" in request.fixturenames:
        cluster = request.getfixturevalue("pg")
        _current["cluster"] = cluster
        _current["log_offset"] = cluster.log_size()
    yield
    _current.pop("cluster", None)
    _current.pop("bouncer", None)


@pytest.fixture
def db(pg):
    name = "t_" + uuid.uuid4().hex[:12]
    pg.psql(f'CREATE DATABASE "{name}"')
    yield Database(pg, name)
    pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


@pytest.fixture
def make_db(pg):
    """Creates extra databases on demand (for tests that need more than one)."""
    made = []

    def make() -> Database:
        name = "t_" + uuid.uuid4().hex[:12]
        pg.psql(f'CREATE DATABASE "{name}"')
        made.append(name)
        return Database(pg, name)

    yield make
    for name in made:
        pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


@pytest.fixture
def preflight():
    return run_preflight


@pytest.fixture(scope="session")
def _pgbouncer_session(pg):
    bouncer = PgBouncer(pg, pool_mode="transaction").start()
    yield bouncer
    bouncer.stop()


@pytest.fixture
def pgbouncer(_pgbouncer_session):
    _current["bouncer"] = _pgbouncer_session
    return _pgbouncer_session


@pytest.fixture
def manifest(tmp_path):
    """manifest(text, files={...}, name="preflight.yaml") writes the manifest (dedented) and any
    files beside it into tmp_path and returns the manifest's path."""

    def write(text: str, files: dict | None = None, name: str = "preflight.yaml") -> Path:
        for rel, content in (files or {}).items():
            p = tmp_path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(content) if isinstance(content, str) else content)
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def closed_port():
    """A loopback port that nothing listens on (reserved for the test's duration)."""
    lock = pgharness.PortLock()
    yield lock.port
    lock.release()
