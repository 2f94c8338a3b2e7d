"""The core library stays free of the UI: engines never import Textual."""

import pkgutil
import subprocess
import sys

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
