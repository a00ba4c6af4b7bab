"""Small helpers shared by the end-to-end tests: reading the JSON report and finding its items."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

REPORT_STATUSES = {"ok", "fixed", "missing", "failed", "unavailable"}
ITEM_STATUSES = {"present", "missing", "created", "failed", "warned"}


def load_report(path) -> dict:
    text = Path(path).read_text()
    report = json.loads(text)
    check_report_shape(report)
    return report


def check_report_shape(report: dict) -> None:
    """Asserts the fields the contract fixes, whatever the run's outcome."""
    assert isinstance(report, dict), report
    assert report.get("status") in REPORT_STATUSES, report
    timings = report.get("timings_ms")
    assert isinstance(timings, dict), report
    for key in ("wait", "verify", "fallback", "total"):
        assert key in timings, f"timings_ms lacks {key}: {timings}"
        assert isinstance(timings[key], (int, float)) and timings[key] >= 0, timings
    assert isinstance(report.get("items"), list), report
    for item in report["items"]:
        assert isinstance(item.get("kind"), str) and item["kind"], item
        assert isinstance(item.get("name"), str) and item["name"], item
        assert item.get("status") in ITEM_STATUSES, item
    assert isinstance(report.get("database"), dict), report


def _norm(name: str) -> str:
    n = name.replace(" ", "").replace('"', "")
    return n[len("public."):] if n.startswith("public.") else n


def find_item(report: dict, kind: str, name: str) -> dict:
    """The report item of that kind whose name is `name`, with or without the default schema
    "public." in front and ignoring spaces (functions' argument lists), or else the one item whose
    name ends with "." + name. Fails if there is none or more than one."""
    want = _norm(name)
    hits = [i for i in report["items"] if i["kind"] == kind and _norm(i["name"]) == want]
    if not hits:
        # Objects that belong to a table may be named through it ("public.users.users_id_fkey").
        hits = [i for i in report["items"]
                if i["kind"] == kind and _norm(i["name"]).endswith("." + want)]
    assert hits, f"no {kind} item named {name!r} in the report: " + json.dumps(report["items"], indent=1)
    assert len(hits) == 1, hits
    return hits[0]


def statuses(report: dict) -> dict:
    """{(kind, normalised name): status} for every item."""
    return {(i["kind"], _norm(i["name"])): i["status"] for i in report["items"]}


def parse_json_stdout(stdout: str) -> dict:
    """The report printed by `check --format json`: stdout must hold that JSON document and nothing
    else (one object, surrounding whitespace allowed)."""
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"stdout is not one JSON document ({e}):\n{stdout}")
    check_report_shape(report)
    return report


def communicate_all(procs: list, timeout: float) -> list[tuple[int, str, str]]:
    """Waits for every process (replicas started together) within one shared deadline, killing
    all that are left when it passes, and returns (returncode, stdout, stderr) for each, in order."""
    deadline = time.monotonic() + timeout
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                if q.poll() is None:
                    q.kill()
            out, err = p.communicate()
        results.append((p.returncode, (out or b"").decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace")))
    return results
