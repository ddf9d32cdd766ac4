"""The rules of docs/ARCHITECTURE.md ("What never imports what"), checked on the static import
graph of every module under src/openphm: every `import` and `from … import`, at the top of a
module or inside a function (a lazy import is still a dependency: it runs when the function
does), with each parent package of an imported module (importing `a.b.c` runs `a` and `a.b`).
Only imports under `if TYPE_CHECKING:` are left out: they never run.

A rule is "module X never reaches module Y": no chain of imports leads from X to Y. A failure
names the chain, so the import to cut is the first thing a reader sees.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parents[2] / "src" / "openphm"

# Zone 1's code: identifiable data.
ZONE_1 = ("landing", "identity")
# The code that holds or uses the linkage key and zone 2 (pseudonyms from NHS numbers).
ZONE_2 = ("pseudonymise",)
# The code that runs in the linked zone and after it: what analysts, output checkers and the
# web service run.
ZONE_3 = ("linked", "analytics", "indicators", "risk", "cohorts", "disclosure")
# landing.catalog is zone 1's list of batches (ids, sources, periods, dates: no patient value,
# no key), which retention reads (below); the package's __init__ holds no code.
CATALOG = ("openphm.landing", "openphm.landing.catalog")
# Besides pseudonymise/, the code that may name the linkage key: the key store, `phm init`
# (programme/, which makes it) and the close (governance/, which destroys it). None of them uses
# it on data.
KEY_HOLDERS = ("keystore", "programme", "governance")
# The processor's entry points that run the pseudonymisation stage, and so reach the modules
# that use the linkage key.
KEY_REACHERS = frozenset({
    "openphm.demo.run", "openphm.demo.commands",  # `phm demo`: the whole programme, every role
    # `phm refresh`: the processor's scheduled job, which runs link (and so pseudonymisation)
    "openphm.refresh.run", "openphm.refresh.commands",
})  # fmt: skip
# The DPO's scheduled job (governance.schedule) runs in the web service too (docs/schedule.md),
# and P8's step is landing.retention: the web service reaches it by design. It reads the catalog
# and destroys keys and files; it never opens a batch or reads a key
# (test_retention_reads_no_identifiable_data holds it to that).
RETENTION = "openphm.landing.retention"
# The registers of practices' and providers' public keys (which key each organisation's tokens
# are sealed to): the web service's key pages register a practice's own first key and the
# DPO's page replaces one. They hold no private key, no linkage key and no identifiable data
# (test_the_key_registers_reach_no_key_and_no_zone_1); the package's __init__ is a docstring.
KEY_REGISTERS = (
    "openphm.pseudonymise",
    "openphm.pseudonymise.practices",
    "openphm.pseudonymise.providers",
)
# The cycles between packages not yet broken, each by the edges that close it, with the plan
# (docs/ARCHITECTURE.md, "Known cycles"). The test fails on a new cycle and on a listed edge that
# no longer closes one, so that this list only shrinks.
KNOWN_CYCLE_EDGES = {
    # governance/ holds both the foundation every stage uses (audit, intents, roles) and the
    # DPO's steps that use the programme and landing (schedule, notice).
    ("governance", "landing"), ("governance", "programme"),
    ("landing", "governance"), ("landing", "programme"), ("programme", "governance"),
}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _running(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node of `tree` except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(module: str, source: str, modules: set[str]) -> set[str]:
    """The openphm modules `module` (whose text is `source`) imports, and their parents."""
    package = module.split(".") if module in _packages() else module.split(".")[:-1]
    named: set[str] = set()
    for node in _running(ast.parse(source)):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            named.add(target)
            named.update(f"{target}.{alias.name}" for alias in node.names)  # submodules
    reached = set()
    for name in named:
        parts = name.split(".")
        reached.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {name for name in reached if name in modules and name != module}


@cache
def _packages() -> frozenset[str]:
    return frozenset(_module_name(p) for p in ROOT.rglob("__init__.py"))


@cache
def graph() -> dict[str, frozenset[str]]:
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(paths)
    return {m: frozenset(imports_of(m, p.read_text(), modules)) for m, p in paths.items()}


def chains(start: str, graph: dict[str, frozenset[str]]) -> dict[str, list[str]]:
    """Every module `start` reaches, with one shortest chain of imports to it."""
    found = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module]):
                if target not in found:
                    found[target] = [*found[module], target]
                    following.append(target)
        frontier = following
    del found[start]
    return found


def package(module: str) -> str:
    """The top-level package (`openphm.landing.load` → `landing`; `openphm.clock` → `clock`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _in(module: str, packages: Iterable[str]) -> bool:
    return package(module) in packages


def violations(sources, forbidden, allowed=lambda module: False) -> list[str]:
    """Chains from a module for which `sources` is true to one for which `forbidden` is true
    (and `allowed` is not)."""
    found = []
    for module in sorted(graph()):
        if not sources(module):
            continue
        for target, chain in chains(module, graph()).items():
            if forbidden(target) and not allowed(target):
                found.append(" → ".join(chain))
                break  # one chain per module is enough to read
    return found


def test_the_graph_sees_lazy_imports_and_leaves_out_type_checking_ones():
    modules = {"openphm", "openphm.a", "openphm.a.b", "openphm.c", "openphm.d"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from openphm.d import X\n"
        "def f():\n    from openphm.a.b import g\n"
        "from . import c\n"
    )
    assert imports_of("openphm.x", source, modules) == {
        "openphm", "openphm.a", "openphm.a.b", "openphm.c"
    }  # fmt: skip
    assert "openphm.landing.load" in chains("openphm.landing.commands", graph())


def test_zone_1_code_never_reaches_the_linked_zones_code():
    """Landing and identity (identifiable data) never import what runs on zone 3."""
    assert violations(lambda m: _in(m, ZONE_1), lambda m: _in(m, ZONE_3)) == []


def test_the_code_analysts_run_never_reaches_zone_1_or_the_pseudonymisation_stage():
    """Nothing under linked/, analytics/, indicators/, risk/, cohorts/ or disclosure/ reaches
    landing/, identity/ or pseudonymise/ (the linkage key), their commands included: `phm
    extract`, which derives a recipient's pseudonyms from the linkage key, is the
    pseudonymisation stage's command (pseudonymise/commands.py), not disclosure's."""
    found = violations(lambda m: _in(m, ZONE_3), lambda m: _in(m, (*ZONE_1, *ZONE_2)))
    assert found == []


def test_analytics_never_reaches_identity_or_pseudonymisation():
    found = violations(lambda m: _in(m, ("analytics",)), lambda m: _in(m, ("identity", *ZONE_2)))
    assert found == []


def test_the_web_service_never_reaches_zone_1_or_the_pseudonymisation_stage():
    """The web service (analysts, practices, the DPO) reaches neither landing/ (but its
    catalog), identity/ nor pseudonymise/: no code that reads identifiable data or uses the
    linkage key is loaded in its process."""
    found = violations(
        lambda m: _in(m, ("web",)),
        lambda m: _in(m, (*ZONE_1, *ZONE_2)),
        allowed=lambda m: m in (*CATALOG, RETENTION, *KEY_REGISTERS),
    )
    assert found == []


def test_the_key_registers_reach_no_key_and_no_zone_1():
    """What the web service may reach of pseudonymise/ (the public-key registers) reaches no
    other pseudonymisation module and nothing of zone 1, asks the key store for nothing and
    never names the linkage key."""
    for module in KEY_REGISTERS:
        reached = chains(module, graph())
        stray = [m for m in reached if _in(m, (*ZONE_1, *ZONE_2)) and m not in KEY_REGISTERS]
        assert stray == [], module
    for module in KEY_REGISTERS[1:]:
        tree = ast.parse((ROOT / f"{module.split('.', 1)[1].replace('.', '/')}.py").read_text())
        assert not names_the_linkage_key(tree), module
        assert "keystore" not in ast.unparse(tree), module


def test_retention_reads_no_identifiable_data():
    """What the web service may reach of landing/ (the catalog and retention) reaches no other
    landing module, and never asks the key store for a key (only destroys them)."""
    for module in (*CATALOG, RETENTION):
        reached = chains(module, graph())
        assert [m for m in reached if _in(m, ZONE_1) and m not in (*CATALOG, RETENTION)] == []
    for module in (CATALOG[1], RETENTION):
        tree = ast.parse((ROOT / f"{module.split('.', 1)[1].replace('.', '/')}.py").read_text())
        asks = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and node.attr == "get"
            and "keystore" in ast.unparse(node.value)
        ]
        assert asks == [], module


def names_the_linkage_key(tree: ast.AST) -> bool:
    """Whether code names KeyName.LINKAGE or passes the literal "linkage" to a key store call."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "LINKAGE":
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "create", "destroy", "has")
            and any(isinstance(a, ast.Constant) and a.value == "linkage" for a in node.args)
        ):
            return True
    return False


@cache
def linkage_key_users() -> frozenset[str]:
    return frozenset(
        _module_name(p)
        for p in ROOT.rglob("*.py")
        if names_the_linkage_key(ast.parse(p.read_text()))
    )


def test_only_the_processors_code_reaches_a_module_that_uses_the_linkage_key():
    """The modules that name the linkage key are reached only from pseudonymise/ and the
    processor's entry points that run its stage (KEY_REACHERS, with their reasons)."""
    users = linkage_key_users()
    assert users and all(_in(m, (*ZONE_2, *KEY_HOLDERS)) for m in users), sorted(users)
    found = violations(
        lambda m: not _in(m, ZONE_2) and m not in KEY_REACHERS,
        lambda m: m in users and _in(m, ZONE_2),
    )
    assert found == []


def layer(module: str) -> str:
    """The package a module belongs to for the cycle rule: its top-level package, but the
    command line (cli.py and every `<stage>/commands.py`) is a layer of its own, above every
    stage: commands parse, call stages and print, and no stage imports a command."""
    if module == "openphm.cli" or module.endswith(".commands"):
        return "commands"
    return package(module)


def package_edges() -> dict[str, frozenset[str]]:
    """Which package imports which (by `layer`)."""
    edges: dict[str, set[str]] = {layer(m): set() for m in graph() if package(m)}
    for module, targets in graph().items():
        for target in targets:
            if layer(module) != layer(target) and package(module) and package(target):
                edges[layer(module)].add(layer(target))
    return {p: frozenset(targets) for p, targets in edges.items()}


def cycle_edges() -> set[tuple[str, str]]:
    """The imports between packages that lie on a cycle: a → b where b reaches a."""
    edges = package_edges()
    return {(a, b) for a, targets in edges.items() for b in targets if a in chains(b, edges)}


def test_no_import_cycle_between_top_level_packages_but_the_known_ones():
    closing = cycle_edges()
    assert sorted(closing - KNOWN_CYCLE_EDGES) == [], "a new cycle"
    assert sorted(KNOWN_CYCLE_EDGES - closing) == [], "broken: take it off KNOWN_CYCLE_EDGES"


def test_no_stage_imports_a_command():
    """Issue 26, item 4: commands parse and print; each stage's module does the work, and is
    what the web, the demo, the benchmark and the refresh call. So no module but a command
    (cli.py and every `<stage>/commands.py`) imports a command module, the web's pages
    included: a stage that needs a command's constant or function takes it from the stage
    module the command itself calls (the web's row limits, from linked.query)."""
    found = sorted(
        f"{module} → {target}"
        for module, targets in graph().items()
        if layer(module) != "commands"
        for target in targets
        if layer(target) == "commands"
    )
    assert found == []


# The one command module another imports, with why: `phm practice` and `phm provider` are the
# practice side's groups (practice/commands.py), and the pseudonymisation stage's commands add
# `register` to them, since registering an organisation's key writes its registers.
COMMAND_GROUPS = {("openphm.pseudonymise.commands", "openphm.practice.commands")}


def test_no_command_imports_another_stages_command():
    """A command calls its stage's modules, never another stage's command: what two commands
    share is a stage's function (analytics.stage.dated, governance.due.due_table) or the
    console's (console.warn_coverage), so each stage's work is where the web, the demo and the
    benchmark find it. cli.py lists the commands; COMMAND_GROUPS names the one group shared."""
    found = {
        (module, target)
        for module, targets in graph().items()
        if module.endswith(".commands")
        for target in targets
        if target.endswith(".commands")
    }
    assert sorted(found - COMMAND_GROUPS) == []
    assert sorted(COMMAND_GROUPS - found) == [], "no longer imported: take it off COMMAND_GROUPS"


# Commands that still write an audit entry themselves, each with why (none now). The test fails
# on a command not listed and on a listed one that no longer writes one, so the list only shrinks.
COMMANDS_THAT_AUDIT: set[str] = set()


def audits(tree: ast.AST) -> list[str]:
    """Where code writes an audit entry: a `.record(…)` call on the audit log
    (`ws.audit.record`, `AuditLog(…).record`, a variable named for the log)."""
    return [
        f"{node.lineno}: {ast.unparse(node.func)}("
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "record"
        and "audit" in ast.unparse(node.func.value).lower()
    ]


def test_a_command_writes_no_audit_entry_itself():
    """Issue 26, item 4: the stage's module does the work and audits it, so the web, the demo
    and the benchmark, calling the same function, write the same entry; a command parses,
    authorises (`open_as`, which audits a refusal), calls and prints."""
    found = {}
    for path in ROOT.rglob("commands.py"):
        calls = audits(ast.parse(path.read_text()))
        if calls:
            found[_module_name(path)] = calls
    assert sorted(set(found) - COMMANDS_THAT_AUDIT) == [], found
    assert sorted(COMMANDS_THAT_AUDIT - set(found)) == [], "take it off COMMANDS_THAT_AUDIT"


def test_the_audit_scan_would_catch_each_way_of_writing_an_entry():
    for code in (
        'ws.audit.record(actor, "x")',
        'ctx.ws.audit.record(actor, "x", counts={"rows": 1})',
        'AuditLog(folder).record(actor, "x")',
    ):
        assert audits(ast.parse(code)), code
    assert audits(ast.parse("recorder.record(frame)")) == []


def test_the_web_service_reaches_no_command():
    """Nothing in web/ but `phm serve` itself (web/commands.py) reaches a command module, by
    any chain of imports: the service's process loads no command's code."""
    found = violations(
        lambda m: _in(m, ("web",)) and layer(m) != "commands",
        lambda m: layer(m) == "commands",
    )
    assert found == []


def test_the_practice_side_reaches_nothing_of_the_programme():
    """practice/ is what a GP practice or a provider runs on its own machine (make its key
    pair, open its tokens into a worklist): it reads only the organisation's own files, so it
    reaches no workspace, key store, zone or stage, only the errors and the spreadsheet-safe
    CSV cells. Registering its public key in the programme's workspace (`phm practice
    register`, `phm provider register`) is the pseudonymisation stage's command."""
    reached = {
        package(m)
        for module in graph()
        if package(module) == "practice"
        for m in chains(module, graph())
    }
    assert reached <= {"", "practice", "errors", "csvsafe"}, sorted(reached)


def test_opening_a_workspace_loads_no_stage():
    """`Workspace.open` only opens (docs/schedule.md): its module reaches no stage's code, so no
    page view or `phm status` can run one. (It reached landing through the intents' check of the
    catalog, which now reads the catalog as a JSON file.)"""
    stages = {package(m) for m in chains("openphm.programme.workspace", graph())}
    assert stages <= {"", "clock", "engine", "errors", "governance", "keystore", "programme"}


def test_zone_3_is_described_without_loading_the_code_that_writes_it_or_the_keys():
    assert chains("openphm.linked.model", graph()) == {}
    assert chains("openphm.linked.objectors", graph()) == {}


ENGINE_NAMES = {"duckdb", "spark"}
# The one place outside engine/ where an engine's name may be written: the [engine] kind a
# programme.toml may choose (programme/config.py's EngineKind), the words of the setting, which
# `engine_for` turns into an engine object. It compares none.
ENGINE_SETTING = "openphm.programme.config"


def engine_names(tree: ast.AST) -> list[str]:
    """Where code names an engine: a comparison (==, !=, in, is) with "duckdb" or "spark" as
    one side, any other use of either as a value (a default, an argument, a table's key), and
    an import of pyspark. Help texts and docstrings that mention an engine among other words
    are not names of one."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(side, ast.Constant) and side.value in ENGINE_NAMES
            for side in (node.left, *node.comparators)
        ):
            found.append(f"{node.lineno}: compares an engine's name")
        elif isinstance(node, ast.Constant) and node.value in ENGINE_NAMES:
            found.append(f"{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if any(m.split(".")[0] == "pyspark" for m in modules):
                found.append(f"{node.lineno}: imports pyspark")
    return found


def test_no_module_outside_engine_names_an_engine():
    """Issue 26, item 2: a stage holds an engine object (`openphm.engine.engine_for`) and asks
    it to open zone 3, make scratch space or a session, or give Splink its backend; it never
    asks which engine it holds. Only engine/ knows DuckDB from Spark by name (and the
    programme's setting, which says which the programme chose)."""
    found = {}
    for path in ROOT.rglob("*.py"):
        module = _module_name(path)
        if package(module) == "engine" or module == ENGINE_SETTING:
            continue
        names = engine_names(ast.parse(path.read_text()))
        if names:
            found[module] = names
    assert found == {}


def test_the_setting_names_the_engines_and_compares_none():
    tree = ast.parse((ROOT / "programme" / "config.py").read_text())
    names = engine_names(tree)
    assert names and not [n for n in names if "compares" in n or "pyspark" in n]


def test_the_engine_name_scan_would_catch_each_way_of_naming_one():
    for code in (
        'if kind == "spark": pass',
        'if engine.kind.value != "spark": pass',
        'def f(engine: str = "duckdb"): pass',
        'trace(records, spine, backend="spark")',
        "from pyspark.sql import SparkSession",
        "import pyspark",
    ):
        assert engine_names(ast.parse(code)), code
    assert engine_names(ast.parse('help = "duckdb or spark (default: duckdb)"')) == []


def test_the_engine_never_reaches_a_stage_or_the_linkage_key():
    """engine/ opens zone 3 with the linked data key it fetches itself; it never names the
    linkage key (that stays in pseudonymise/) and reaches no stage's code (a stage gives it
    what it needs, as functions: a fingerprint, a check)."""
    assert not [m for m in linkage_key_users() if package(m) == "engine"]
    stages = {
        package(m)
        for module in graph()
        if package(module) == "engine"
        for m in chains(module, graph())
    }
    assert stages <= {"", "engine", "errors", "keystore"}, sorted(stages)


# Calls that run SQL on a database connection (DuckDB's and sqlite3's), or fetch its result.
# Not `query`: DuckDB's alias of `sql`, but also pandas' DataFrame.query, which the pages use
# on what they read (a `con.query(…)` would still need a `.df()` or a fetch to be read).
SQL_CALLS = {"execute", "executemany", "executescript", "sql", "fetchone", "fetchall",
             "fetchmany", "fetchdf", "fetchnumpy", "df", "arrow", "pl"}  # fmt: skip
# The modules of web/ that may run SQL, each with why. The analyst's ad hoc query page
# (web/sql.py) and /api/sql are not among them: they run nothing themselves, but hand the
# analyst's query to linked.query.run_sql, the sandbox `phm sql` uses.
WEB_SQL = {
    # The web service's own ledger of sign-in failures (WORKSPACE/web/sign_in_failures.sqlite,
    # SQLite): not zone 3, and no patient value in it.
    "openphm.web.sign_in_ledger": "the sign-in ledger, the web's own file",
}
# Modules of web/ that still count zone 3 per view, each with the plan. The test fails on a
# module not listed and on a listed one that no longer runs SQL, so the list only shrinks.
WEB_SQL_NOT_YET: set[str] = set()  # modules still to move onto linked.built (none now)


def runs_sql(tree: ast.AST) -> list[str]:
    """Where code calls a method that runs SQL or fetches its rows (`con.execute(…)`,
    `con.sql(…)`, `cursor.fetchall()`, `relation.df()`, …)."""
    return [
        f"{node.lineno}: .{node.func.attr}("
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_CALLS
    ]


def test_the_web_renders_what_the_stages_built_and_runs_no_sql():
    """Issue 26, item 5: the web's pages read the tables the stages built (analytics.figures,
    risk.figures, the measures, the indicators' counts) through linked.built.read, a function
    of names and values; no module in web/ writes or runs SQL against zone 3 (but those in
    WEB_SQL, with their reasons, and WEB_SQL_NOT_YET, with their plan)."""
    found = {}
    for path in (ROOT / "web").rglob("*.py"):
        module = _module_name(path)
        calls = runs_sql(ast.parse(path.read_text()))
        if calls and module not in WEB_SQL:
            found[module] = calls
    assert sorted(set(found) - WEB_SQL_NOT_YET) == [], found
    assert sorted(WEB_SQL_NOT_YET - set(found)) == [], "no SQL left: take it off WEB_SQL_NOT_YET"
    assert all(runs_sql(ast.parse((ROOT / "web" / f"{m.split('.')[-1]}.py").read_text()))
               for m in WEB_SQL), "an exception that runs no SQL"  # fmt: skip


def test_the_sql_scan_would_catch_each_way_of_running_a_query():
    for code in (
        'con.execute("SELECT 1")',
        "con.sql(query).df()",
        "cursor.fetchall()",
        'ws.connect_linked().execute("SELECT * FROM linked.people").fetchone()',
        "relation.arrow()",
    ):
        assert runs_sql(ast.parse(code)), code
    assert runs_sql(ast.parse("built.read(ws, 'measures', where={'measure': m})")) == []
