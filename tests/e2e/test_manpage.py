"""The man page (src/preflight.1, issue 12 item 8) is kept in step with `preflight --help`: every
subcommand and option --help names is documented in the page's COMMANDS / OPTIONS sections and
nothing more; every PREFLIGHT_* variable --help names is in the page, and every one the page names
is read by the code. `cmake --install` installs it as share/man/man1/preflight.1. Options that land
later fail here until the page documents them."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pgharness import preflight_bin, preflight_env

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "src" / "preflight.1"


def _help() -> str:
    p = subprocess.run([preflight_bin(), "--help"], env=preflight_env(None), capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=20)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def _plain(troff: str) -> str:
    """The page's text without font escapes, with \\- as -."""
    t = re.sub(r"\\f[BIRP]", "", troff)
    return t.replace("\\-", "-").replace("\\(dq", '"').replace("\\ ", " ")


def _sections(troff: str) -> dict:
    out, name = {}, None
    for line in troff.splitlines():
        m = re.match(r"^\.SH\s+(.*)$", line)
        if m:
            name = m.group(1).strip('"')
            out[name] = []
        elif name:
            out[name].append(line)
    return out


def _tp_heads(lines: list) -> list:
    """The lines that follow a .TP: the terms the section defines."""
    return [_plain(lines[i + 1]) for i, l in enumerate(lines[:-1]) if l.startswith(".TP")]


OPT = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])")


def test_every_option_in_help_is_in_the_man_page_and_back():
    text = _help()
    helped = set(OPT.findall(text))
    sec = _sections(PAGE.read_text(encoding="utf-8"))
    documented = set()
    for head in _tp_heads(sec["OPTIONS"]):
        documented |= set(OPT.findall(head))
    assert helped - documented == set(), f"in --help but not in {PAGE.name}'s OPTIONS: {sorted(helped - documented)}"
    assert documented - helped == set(), f"in {PAGE.name}'s OPTIONS but not in --help: {sorted(documented - helped)}"


def test_every_subcommand_in_help_is_in_the_man_page_and_back():
    helped = set(re.findall(r"^  preflight (?:\[)?([a-z]+)", _help(), re.M))
    sec = _sections(PAGE.read_text(encoding="utf-8"))
    documented = {re.sub(r"^\.B\s+", "", h).strip() for h in _tp_heads(sec["COMMANDS"])}
    assert helped == documented, (sorted(helped), sorted(documented))
    synopsis = _plain("\n".join(sec["SYNOPSIS"]))
    for c in helped:
        assert re.search(rf"\b{c}\b", synopsis), f"{c} is missing from the SYNOPSIS"


def test_environment_variables_agree():
    helped = set(re.findall(r"\bPREFLIGHT_[A-Z_]+", _help()))
    page = _plain(PAGE.read_text(encoding="utf-8"))
    named = set(re.findall(r"\bPREFLIGHT_[A-Z_]+", page))
    assert helped - named == set(), f"in --help but not in the man page: {sorted(helped - named)}"
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").glob("*.c"))
    unknown = {v for v in named if f'"{v}"' not in code and f'"{v}=' not in code}
    assert not unknown, f"the man page names variables no code reads: {sorted(unknown)}"


def test_man_page_renders_without_warnings():
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(PAGE)], capture_output=True,
                       timeout=20)
    assert p.returncode == 0 and not p.stderr, p.stderr.decode()


def test_cmake_install_puts_the_man_page_in_man1(tmp_path):
    build = Path(preflight_bin()).resolve().parent
    if not (build / "cmake_install.cmake").exists():
        pytest.skip(f"{build} is not a CMake build folder")
    p = subprocess.run(["cmake", "--install", str(build), "--prefix", str(tmp_path)],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    page = tmp_path / "share" / "man" / "man1" / "preflight.1"
    assert page.read_bytes() == PAGE.read_bytes()
    assert os.access(tmp_path / "bin" / "preflight", os.X_OK)
