"""The production incidents preflight exists for, replayed against a real database: a column added
by a migration that never ran, a missing table, a missing function whose fallback file has a $$
body and two statements, and a Prisma table whose camelCase column must be matched exactly."""


from conftest import DATA
from e2e_util import find_item, load_report

INCIDENTS = DATA / "incidents"
MANIFEST = INCIDENTS / "preflight.yaml"


def load_incident_schema(db):
    db.sql((INCIDENTS / "schema.sql").read_text())


def test_check_reports_each_missing_object(db, preflight, tmp_path):
    load_incident_schema(db)
    report = tmp_path / "report.json"
    r = preflight(["check", "-f", MANIFEST, "-d", db.url, "-t", "10s", "--report", report])
    assert r.code == 65, str(r)
    assert r.stdout == "", str(r)
    rep = load_report(report)
    assert rep["status"] == "missing"
    assert find_item(rep, "column", "public.users.avatar_url")["status"] == "missing"
    assert find_item(rep, "table", "interview_sessions")["status"] == "missing"
    assert find_item(rep, "function", "get_nodes_system(uuid, integer)")["status"] == "missing"
    assert find_item(rep, "table", "users")["status"] == "present"
    assert find_item(rep, "column", "users.id")["status"] == "present"
    assert find_item(rep, "table", "avatar_projects")["status"] == "present"
    assert find_item(rep, "column", "avatar_projects.userId")["status"] == "present"
    assert find_item(rep, "index", "avatar_projects_userId_idx")["status"] == "present"


def test_run_repairs_everything_then_execs(db, preflight, tmp_path):
    load_incident_schema(db)
    report = tmp_path / "report.json"
    r = preflight(["run", "-f", MANIFEST, "-d", db.url, "-t", "10s", "--report", report, "--",
                   "sh", "-c", 'echo app-started; echo "mark=$INCIDENT_MARK"'],
                  env={"INCIDENT_MARK": "x42"})
    assert r.code == 0, str(r)
    assert r.stdout == "app-started\nmark=x42\n", str(r)

    # The database really has them now.
    assert db.has_column("users", "avatar_url")
    assert db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                     "WHERE attrelid = 'users'::regclass AND attname = 'avatar_url'") == "text"
    assert db.exists("interview_sessions")
    assert db.has_column("interview_sessions", "started_at")
    assert db.scalar("SELECT to_regprocedure('get_nodes_system(uuid, integer)') IS NOT NULL") == "t"
    # Both statements of the fallback file ran, and the $$ body arrived intact: the function works.
    db.sql("""
        INSERT INTO nodes VALUES ('00000000-0000-0000-0000-000000000001',
                                  '00000000-0000-0000-0000-0000000000aa', 1, 'a'),
                                 ('00000000-0000-0000-0000-000000000002',
                                  '00000000-0000-0000-0000-0000000000aa', 5, 'b');
    """)
    assert db.scalar("SELECT string_agg(label, ',') FROM "
                     "get_nodes_system('00000000-0000-0000-0000-0000000000aa', 2)") == "a"
    assert "semicolons; and 'quotes'" in db.scalar(
        "SELECT prosrc FROM pg_proc WHERE proname = 'get_nodes_system'")

    rep = load_report(report)
    assert rep["status"] == "fixed"
    assert find_item(rep, "column", "public.users.avatar_url")["status"] == "created"
    assert find_item(rep, "table", "interview_sessions")["status"] == "created"
    assert find_item(rep, "function", "get_nodes_system(uuid, integer)")["status"] == "created"
    assert find_item(rep, "column", "avatar_projects.userId")["status"] == "present"

    # Everything is there now: check agrees, and a second run has nothing to do.
    r = preflight(["check", "-f", MANIFEST, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    report2 = tmp_path / "report2.json"
    r = preflight(["run", "-f", MANIFEST, "-d", db.url, "-t", "10s", "--report", report2])
    assert r.code == 0, str(r)
    rep2 = load_report(report2)
    assert rep2["status"] == "ok"
    assert all(i["status"] == "present" for i in rep2["items"]), rep2["items"]


def test_camelcase_column_is_matched_exactly(db, preflight, manifest, tmp_path):
    load_incident_schema(db)
    exact = manifest("""
        version: 1
        tables:
          - name: avatar_projects
            columns:
              - {name: userId, type: uuid}
        indexes:
          - {name: avatar_projects_userId_idx, table: avatar_projects}
    """, name="exact.yaml")
    r = preflight(["check", "-f", exact, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)

    # Names are never case-folded: userid is another column, and it does not exist.
    folded = manifest("""
        version: 1
        tables:
          - name: avatar_projects
            columns:
              - {name: userid, type: uuid}
    """, name="folded.yaml")
    report = tmp_path / "folded.json"
    r = preflight(["check", "-f", folded, "-d", db.url, "-t", "10s", "--report", report])
    assert r.code == 65, str(r)
    item = find_item(load_report(report), "column", "avatar_projects.userid")
    assert item["status"] == "missing"

    # Nor quoted: a manifest that writes the SQL spelling "userId" asks for a name with quotes in it.
    upper_index = manifest("""
        version: 1
        indexes:
          - {name: avatar_projects_userid_idx, table: avatar_projects}
    """, name="index.yaml")
    r = preflight(["check", "-f", upper_index, "-d", db.url, "-t", "10s"])
    assert r.code == 65, str(r)


def test_camelcase_column_fallback_creates_the_exact_name(db, preflight, manifest):
    db.sql('CREATE TABLE avatar_projects (id uuid PRIMARY KEY)')
    m = manifest("""
        version: 1
        tables:
          - name: avatar_projects
            columns:
              - name: userId
                type: uuid
                fallback: ALTER TABLE avatar_projects ADD COLUMN IF NOT EXISTS "userId" uuid;
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert db.has_column("avatar_projects", "userId")
    assert not db.has_column("avatar_projects", "userid")
