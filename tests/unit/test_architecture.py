"""The core library stays free of the UI: engines never import Textual."""

import ast
import functools
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import periph_env

# Front ends may import Textual; everything else is core.
FRONT_ENDS = ("periph_env.tui", "periph_env.cli")


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(periph_env.__path__, "periph_env."):
        if info.name.startswith(FRONT_ENDS) or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


def test_core_modules_exist():
    assert "periph_env.errors" in core_modules()


def test_core_does_not_import_textual():
    code = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(leaked))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Textual: {out.stdout.strip()}"


@functools.cache
def _sources() -> tuple[tuple[str, ast.Module], ...]:
    """Every module of periph_env, parsed once for all the rules here (a parse of the
    whole package is ~1 s of CPU; the trees are only read)."""
    root = Path(periph_env.__file__).parent
    return tuple(
        (str(path.relative_to(root.parent)), ast.parse(path.read_text(), str(path)))
        for path in sorted(root.rglob("*.py"))
    )


def test_no_module_imports_another_modules_private_name():
    crossing = []
    for where, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("periph_env"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        crossing.append(f"{where}:{node.lineno} {node.module}.{alias.name}")
            elif isinstance(node, ast.ImportFrom) and node.level:  # relative: same rule
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        crossing.append(f"{where}:{node.lineno} .{alias.name}")
    assert crossing == [], "private names imported across modules:\n" + "\n".join(crossing)


def test_no_module_reaches_into_another_modules_private_attribute():
    # ``engine._open(...)`` after ``from periph_env.deploy import engine`` is the same
    # crossing as importing ``_open``.
    crossing = []
    for where, tree in _sources():
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("periph_env")
            for alias in node.names
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                crossing.append(f"{where}:{node.lineno} {node.value.id}.{node.attr}")
    assert crossing == [], "private names used across modules:\n" + "\n".join(crossing)


# Private names of other libraries that periph reaches on purpose, each for a reason:
# argparse's subparsers type (annotations), namedtuple's documented ``_replace``, the
# docker SDK's raw-socket helpers (log streams read without per-chunk overhead), urllib3's
# socket under a watch (closed to stop it at once).
FOREIGN_PRIVATE = {
    "_SubParsersAction", "_replace", "_url", "_get", "_raise_for_status",
    "_disable_socket_timeout", "_get_raw_response_socket", "_fp", "_sock",
}  # fmt: skip


def test_no_object_of_periph_is_reached_through_its_private_names():
    # ``stack._select(...)`` from another module is the same crossing as importing a
    # private name: whatever another module needs is public on the object.
    crossing = []
    for where, tree in _sources():
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in FOREIGN_PRIVATE
            ):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                continue
            crossing.append(f"{where}:{node.lineno} {ast.unparse(node)}")
    assert crossing == [], "private names of other objects used:\n" + "\n".join(crossing)


def test_periph_never_leaves_through_os_exit():
    # Leaving with os._exit skips every finally and atexit: a deploy's history record
    # stays "running". periph exits because nothing of it is left running.
    found = [
        f"{where}:{node.lineno}"
        for where, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "_exit"
    ]
    assert found == []


def _method_calls_outside_redact(method: str, matches) -> list[str]:
    """``where:line`` of every ``x.<method>(...)`` call outside common/redact.py whose
    arguments ``matches``."""
    return [
        f"{where}:{node.lineno}"
        for where, tree in _sources()
        if not where.endswith("common/redact.py")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and matches(node.args)
    ]


def test_only_the_one_masker_replaces_secrets_with_the_mask():
    # A hand-written `text.replace(secret, MASK)` masks the plain value only: the base64 a
    # kubectl error echoes got through one (deploy/kube.py) after a merge. Every mask goes
    # through common/redact (all forms of every secret).
    def with_mask(args) -> bool:
        return any(isinstance(a, ast.Name) and a.id == "MASK" for a in args)

    assert _method_calls_outside_redact("replace", with_mask) == []


def _secret_rule(pattern: str) -> bool:
    """A regex deciding what is secret: by key-name words, or a URL's password (a ``:``
    between ``://`` and ``@`` outside character classes and group syntax; a URL validator
    that skips userinfo has none)."""
    if any(w in pattern.upper() for w in ("PASSWORD", "PASSWD", "SECRET", "TOKEN")):
        return True
    bare = re.sub(r"\[(?:\\.|[^\]])*\]|\(\?(?::|P<\w+>)", "", pattern)
    return re.search(r"://[^@]*:[^@]*@", bare) is not None


def test_which_names_and_urls_hold_secrets_is_decided_in_one_place():
    # A second copy of the rule drifts: env/masking.py had its own URL-password pattern.
    # Any regex about secret-ish key names or URL credentials lives in common/redact.py.
    def secret_pattern(args) -> bool:
        first = args[0] if args else None
        return (
            isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and (_secret_rule(first.value))
        )

    assert _method_calls_outside_redact("compile", secret_pattern) == []


def test_the_secret_rule_check_knows_a_url_password_pattern_from_a_url_validator():
    assert _secret_rule(r"://[^/@\s]*:[^/@\s]*@")  # the copy masking.py had
    assert not _secret_rule(r"(?P<scheme>[a-z]+)://(?:[^\s/?#@]*@)?(?P<host>[^/]+)")


def _import_graph() -> dict[str, set[str]]:
    """Module -> the periph_env modules it imports (at the top or inside a function)."""
    root = Path(periph_env.__file__).parent
    modules = {
        ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in root.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for where, tree in _sources():
        name = where.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        edges = graph.setdefault(name, set())
        for node in ast.walk(_without_type_only_imports(tree)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("periph_env"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    edges.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in modules)
    return graph


def _without_type_only_imports(tree: ast.Module) -> ast.Module:
    """``tree`` without its ``if TYPE_CHECKING:`` blocks: a type-only import never runs,
    so it makes no cycle (``kube_client`` names ``Kube`` in its annotations only)."""
    body = [
        node
        for node in tree.body
        if not (isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"))
    ]
    return ast.Module(body=body, type_ignores=[])


def test_the_deploy_modules_import_each_other_without_a_cycle():
    # verify_stage used to import engine (lazily) while engine imports verify_stage.
    graph = {
        name: {e for e in edges if e.startswith("periph_env.deploy.")}
        for name, edges in _import_graph().items()
        if name.startswith("periph_env.deploy.")
    }
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(name, ())):
            if nxt in path:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif len(path) < 12:
                visit(nxt, [*path, nxt])

    for name in sorted(graph):
        visit(name, [name])
    assert cycles == []


def test_no_module_of_common_shadows_a_name_the_package_exports():
    # ``periph_env.common`` hands out ``run``, ``wait_for``, ... lazily; a submodule of
    # the same name, once imported, would replace the function on the package.
    import periph_env.common as common

    root = Path(common.__file__).parent
    modules = {path.stem for path in root.glob("*.py")}
    assert sorted(modules & set(common.__all__)) == []
