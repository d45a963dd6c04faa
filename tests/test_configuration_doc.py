"""docs/configuration.md lists every environment variable the gateway's code reads, and no other.

The code is parsed with ``ast``, not grepped, so that a name in a comment or a docstring is not
taken for a read and a read spelled differently is not missed. A read is:

- a call on a django-environ object: ``env.str("NAME", ...)``, ``env("NAME")``, ``environ.Env().int("NAME")``;
- ``os.environ.get("NAME")``, ``os.environ["NAME"]``, ``os.getenv("NAME")``, ``"NAME" in os.environ``.

``os.environ.setdefault`` is not a read an operator can steer (the code supplies the value).
A read whose name is not a literal string fails the test: it could read anything.

Secrets: an object made with ``environ.FileAwareEnv()`` also reads ``NAME_FILE`` (the file's
contents are the value), so ``NAME_FILE`` in the documentation stands for ``NAME`` when, and
only when, the code reads ``NAME`` that way.

The documentation's tables name variables in their first column in backticks; a cell may
abbreviate names that share a prefix: `` `GATEWAY_HSTS_SECONDS`, `_INCLUDE_SUBDOMAINS` `` names
``GATEWAY_HSTS_INCLUDE_SUBDOMAINS`` (the suffix replaces the first name's last part).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "configuration.md"
# Development and test tooling reads its own variables (GATEWAY_STACK_*, GATEWAY_REQUIRE_SERVICES):
# they are not settings of the gateway an operator deploys.
NOT_THE_GATEWAY = {"tests", "bench", "scripts"}
ENV_CLASSES = {"Env": False, "FileAwareEnv": True}  # class name -> reads NAME_FILE too
NOT_READS = {"read_env", "parse_value", "setdefault"}


@dataclass(frozen=True)
class Read:
    name: str
    file_aware: bool
    where: str


def gateway_sources() -> list[Path]:
    """manage.py and every top-level package but the tooling (new apps are included by themselves)."""
    packages = sorted(p.parent for p in ROOT.glob("*/__init__.py") if p.parent.name not in NOT_THE_GATEWAY)
    return [ROOT / "manage.py", *(f for package in packages for f in sorted(package.rglob("*.py")))]


def _env_class(node: ast.AST) -> bool | None:
    """For ``environ.Env()`` / ``FileAwareEnv()``: whether it reads NAME_FILE; None otherwise."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in ENV_CLASSES:
            return ENV_CLASSES[name]
    return None


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def reads_in(path: Path, root: Path = ROOT) -> list[Read]:
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(root).as_posix()
    env_objects: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and (kind := _env_class(node.value)) is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    env_objects[target.id] = kind
    found: list[Read] = []

    def literal(argument: ast.AST | None, node: ast.AST) -> str:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            return argument.value
        pytest.fail(f"{where}:{node.lineno} reads an environment variable whose name is not a literal")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            argument = node.args[0] if node.args else None
            if isinstance(func, ast.Name) and func.id in env_objects:  # env("NAME")
                found.append(Read(literal(argument, node), env_objects[func.id], f"{where}:{node.lineno}"))
            elif isinstance(func, ast.Attribute) and func.attr not in NOT_READS:
                owner = func.value
                if isinstance(owner, ast.Name) and owner.id in env_objects:  # env.str("NAME")
                    kind = env_objects[owner.id]
                elif (direct := _env_class(owner)) is not None:  # environ.Env().str("NAME")
                    kind = direct
                elif _is_os_environ(owner) and func.attr == "get":  # os.environ.get("NAME")
                    kind = False
                elif isinstance(owner, ast.Name) and owner.id == "os" and func.attr == "getenv":
                    kind = False
                else:
                    continue
                found.append(Read(literal(argument, node), kind, f"{where}:{node.lineno}"))
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value) and isinstance(node.ctx, ast.Load):
            found.append(Read(literal(node.slice, node), False, f"{where}:{node.lineno}"))
        elif (
            isinstance(node, ast.Compare)
            and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
            and any(_is_os_environ(c) for c in node.comparators)
        ):
            found.append(Read(literal(node.left, node), False, f"{where}:{node.lineno}"))
    return found


def code_reads() -> dict[str, Read]:
    reads: dict[str, Read] = {}
    for path in gateway_sources():
        for read in reads_in(path):
            # One plain read is enough to make NAME_FILE unreliable for that name.
            if read.name not in reads or not read.file_aware:
                reads[read.name] = read
    return reads


NAME = re.compile(r"`(_?[A-Z][A-Z0-9_]*)`")


def documented_names(text: str) -> set[str]:
    names: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        first_cell = line.split("|")[1]
        full = None
        for token in NAME.findall(first_cell):
            if token.startswith("_"):
                if full is None:
                    pytest.fail(f"configuration.md: {token} abbreviates no name before it: {line}")
                names.add(full.rsplit("_", 1)[0] + token)
            else:
                full = token
                names.add(token)
    return names


def compare(reads: dict[str, Read], documented: set[str]) -> list[str]:
    problems = []
    explained = set()
    for name in sorted(documented):
        if name in reads:
            explained.add(name)
        elif name.endswith("_FILE") and name.removesuffix("_FILE") in reads:
            read = reads[name.removesuffix("_FILE")]
            if not read.file_aware:
                problems.append(
                    f"{name} is documented, but {read.where} reads {read.name} without the _FILE convention"
                )
            explained.add(name)
    for name, read in sorted(reads.items()):
        if name not in documented:
            problems.append(f"{name} (read at {read.where}) is not in docs/configuration.md")
    for name in sorted(documented - explained):
        problems.append(f"{name} is in docs/configuration.md, but no code reads it")
    return problems


def test_configuration_doc_lists_every_variable_the_code_reads():
    reads = code_reads()
    # The collector must see the settings module's reads at all, or the comparison says nothing.
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY", "GATEWAY_PUBLISHER_KEY_DIR", "PROMETHEUS_MULTIPROC_DIR"} <= set(reads)
    assert reads["DJANGO_SECRET_KEY"].file_aware
    assert not reads["GATEWAY_VAR_DIR"].file_aware
    problems = compare(reads, documented_names(DOC.read_text()))
    assert not problems, "\n".join(problems)


def test_each_kind_of_read_is_collected(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "import os\nimport environ\n"
        "env = environ.FileAwareEnv()\n"
        "A = env.str('A_NAME', default='')\n"
        "B = env('B_NAME')\n"
        "C = environ.Env().int('C_NAME', default=1)\n"
        "D = os.environ.get('D_NAME')\n"
        "E = os.environ['E_NAME']\n"
        "F = os.getenv('F_NAME')\n"
        "G = 'G_NAME' in os.environ\n"
        "os.environ.setdefault('NOT_A_READ', 'x')\n"
        "# env.str('IN_A_COMMENT')\n"
    )
    found = {read.name: read.file_aware for read in reads_in(source, tmp_path)}
    assert found == {
        "A_NAME": True,
        "B_NAME": True,
        "C_NAME": False,
        "D_NAME": False,
        "E_NAME": False,
        "F_NAME": False,
        "G_NAME": False,
    }


def test_a_read_by_a_computed_name_fails(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("import environ\nenv = environ.Env()\nX = env.str('GATEWAY_' + 'X')\n")
    with pytest.raises(pytest.fail.Exception, match="not a literal"):
        reads_in(source, tmp_path)


def test_the_comparison_names_what_is_missing_stale_or_not_file_aware():
    reads = {
        "DJANGO_SECRET_KEY": Read("DJANGO_SECRET_KEY", True, "s.py:1"),
        "GATEWAY_VAR_DIR": Read("GATEWAY_VAR_DIR", False, "s.py:2"),
        "GATEWAY_NEW": Read("GATEWAY_NEW", True, "s.py:3"),
    }
    documented = documented_names(
        "| variable | default |\n|---|---|\n"
        "| `DJANGO_SECRET_KEY`, `DJANGO_SECRET_KEY_FILE` | x |\n"
        "| `GATEWAY_VAR_DIR_FILE` | uses `GATEWAY_NEW` in the meaning, which does not count |\n"
        "| `GATEWAY_VAR_DIR`, `_GONE` | |\n"
    )
    assert documented == {
        "DJANGO_SECRET_KEY",
        "DJANGO_SECRET_KEY_FILE",
        "GATEWAY_VAR_DIR_FILE",
        "GATEWAY_VAR_DIR",
        "GATEWAY_VAR_GONE",
    }
    assert compare(reads, documented) == [
        "GATEWAY_VAR_DIR_FILE is documented, but s.py:2 reads GATEWAY_VAR_DIR without the _FILE convention",
        "GATEWAY_NEW (read at s.py:3) is not in docs/configuration.md",
        "GATEWAY_VAR_GONE is in docs/configuration.md, but no code reads it",
    ]
