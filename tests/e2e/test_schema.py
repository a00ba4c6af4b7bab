"""`preflight schema` (issue 12 item 7): the JSON Schema it prints is a valid draft 2020-12 schema;
every manifest in config/ and tests/data/manifests/valid validates against it; every manifest in
tests/data/manifests/invalid fails it, unless the file says why the schema cannot see its error
with a line

    # schema: passes (<reason>)

(duplicate names, a file that must exist, a duration over the maximum, preflight's own YAML
restrictions ...). Such a file must then indeed pass the schema, so the marks cannot go stale.
No database is needed: the schema comes from the parser's own tables (src/manifest_keys.c).

Manifests are read as an editor's YAML 1.2 language server reads them: only true/false (in three
spellings) are booleans, and a repeated key is an error."""
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from pgharness import preflight_bin, preflight_env

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "manifests"
MARK = re.compile(r"^# schema: passes \((.+)\)\s*$", re.M)


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1 (yes/no/on/off are booleans); editors and preflight read 1.2."""


Yaml12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def _unique_mapping(loader, node, deep=False):
    keys = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", k.start_mark)
        keys.add(key)
    return loader.construct_mapping(node, deep)


Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _unique_mapping)


@pytest.fixture(scope="module")
def validator():
    p = subprocess.run([preflight_bin(), "schema"], env=preflight_env(None), capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=20)
    assert p.returncode == 0, p.stderr.decode()
    schema = json.loads(p.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _load(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)


def _manifests_in_config():
    out = []
    for p in sorted((ROOT / "config").rglob("*.y*ml")):
        if re.search(r"^version:", p.read_text(encoding="utf-8"), re.M):
            out.append(p)
    return out


def test_schema_is_printed_and_is_a_2020_12_schema(validator):
    s = validator.schema
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    # Every kind has a definition; every property carries a description for the editor.
    assert {"table", "column", "function", "grant", "check"} <= set(s["$defs"])

    def walk(node, where):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                assert sub.get("description"), f"{where}.{key} has no description"
                walk(sub, f"{where}.{key}")
            for name, sub in node.get("$defs", {}).items():
                walk(sub, f"$defs.{name}")
    walk(s, "")


def test_help_lists_the_schema_subcommand():
    p = subprocess.run([preflight_bin(), "--help"], env=preflight_env(None), capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=20)
    assert p.returncode == 0 and "preflight schema" in p.stdout.decode()


@pytest.mark.parametrize("path", _manifests_in_config() + sorted((DATA / "valid").glob("*.yaml")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_valid_manifests_validate(validator, path):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(_load(path))]
    assert not errors, errors


def test_examples_point_editors_at_the_schema():
    for p in _manifests_in_config():
        first = p.read_text(encoding="utf-8").splitlines()[0]
        m = re.match(r"# yaml-language-server: \$schema=(\S+)$", first)
        assert m, f"{p}: the first line should be # yaml-language-server: $schema=..."
        assert (p.parent / m.group(1)).resolve() == ROOT / "config" / "preflight.schema.json", p


def test_committed_schema_file_is_current(validator):
    # config/preflight.schema.json is what the examples' $schema lines point at: it must be
    # exactly what this preflight prints (regenerate: preflight schema > config/preflight.schema.json).
    committed = json.loads((ROOT / "config" / "preflight.schema.json").read_text(encoding="utf-8"))
    assert committed == validator.schema, \
        "config/preflight.schema.json is stale: run build/preflight schema > config/preflight.schema.json"


@pytest.mark.parametrize("path", sorted((DATA / "invalid").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_invalid_manifests_fail_unless_marked(validator, path):
    text = path.read_bytes().decode("utf-8", "replace")
    mark = MARK.search(text)
    try:
        doc = _load(path)
        errors = list(validator.iter_errors(doc))
        readable = True
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, TypeError):
        readable, errors = False, []
    if mark:
        assert readable and not errors, \
            f"{path.name} is marked as passing the schema ({mark.group(1)}) but fails it: " \
            f"{[e.message for e in errors] or 'not readable as YAML'}"
    else:
        assert not readable or errors, \
            f"{path.name} passes the schema: make the schema catch it (src/manifest_keys.c), or, " \
            f"if no JSON Schema can, add a line '# schema: passes (<why>)' to the file"
