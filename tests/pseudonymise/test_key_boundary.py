"""The linkage key stays in zone 2 (docs/promises.md "Key material"): only the
pseudonymisation stage (and the key store, engine, programme and governance code that hold or
create keys) may name it, and the code analysts run does not even import that stage."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import resources
from pathlib import Path

ALLOWED = ("pseudonymise", "keystore", "engine", "programme", "governance")


def _package_root() -> Path:
    return Path(str(resources.files("openphm")))


def _names_the_linkage_key(tree: ast.AST) -> list[int]:
    """Lines that name KeyName.LINKAGE or pass the literal "linkage" to a key store call."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "LINKAGE":
            lines.append(node.lineno)
        keystore_call = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "create", "destroy", "has")
        )
        if keystore_call and any(
            isinstance(a, ast.Constant) and a.value == "linkage" for a in node.args
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_pseudonymisation_stage_reads_the_linkage_key():
    root = _package_root()
    offenders = []
    for path in root.rglob("*.py"):
        stage = path.relative_to(root).parts[0]
        if stage in ALLOWED:
            continue
        lines = _names_the_linkage_key(ast.parse(path.read_text(), str(path)))
        offenders += [f"{path.relative_to(root)}:{line}" for line in lines]
    assert offenders == []


def test_the_scan_would_catch_a_module_reading_the_linkage_key():
    code = "from openphm.keystore import KeyName\nkey = ws.keystore.get(KeyName.LINKAGE)\n"
    assert _names_the_linkage_key(ast.parse(code)) == [2]
    assert _names_the_linkage_key(ast.parse("ws.keystore.get('linkage')")) == [1]


def test_importing_the_analysts_code_does_not_import_the_pseudonymisation_stage():
    modules = ["openphm.linked", "openphm.linked.query"]
    if (_package_root() / "analytics").is_dir():
        modules.append("openphm.analytics")
    probe = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith('openphm.pseudonymise')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
