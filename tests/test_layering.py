"""The house's one-way flow, enforced: bounds -> empirical -> compare (science -> present -> sweeps -> cli).

Every import statement of every module is read (module-level and inside functions): bounds never imports torch,
empirical or compare; empirical never imports sympy or compare; inside compare a layer imports only layers below it,
and nothing imports the command line. Importing the measurement side loads no sympy, and building the command
line's parser loads neither torch nor sympy (what keeps `vaebound --help` fast)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# compare's layers, bottom to top; a module of compare/ outside the subpackages is the science.
LAYERS = ["compare", "compare.present", "compare.sweeps", "compare.cli"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names of everything a module imports, relative imports resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def layer(name: str) -> int:
    return max(i for i, top in enumerate(LAYERS) if name == top or name.startswith(top + "."))


def touches(names: set[str], package: str) -> set[str]:
    return {n for n in names if n == package or n.startswith(package + ".")}


@pytest.mark.parametrize("path", modules("bounds"), ids=lambda p: module_name(p))
def test_bounds_imports_no_torch_no_measurement_no_comparison(path):
    names = imports(path)
    assert not touches(names, "torch") | touches(names, "empirical") | touches(names, "compare")


@pytest.mark.parametrize("path", modules("empirical"), ids=lambda p: module_name(p))
def test_empirical_imports_no_sympy_no_comparison(path):
    names = imports(path)
    assert not touches(names, "sympy") | touches(names, "compare")
    assert not {n for n in touches(names, "bounds") if n.split(".")[1] not in ("spec", "validate", "layout",
                                                                              "support", "presets")}


@pytest.mark.parametrize("path", modules("compare"), ids=lambda p: module_name(p))
def test_compare_layers_import_only_downwards(path):
    own = layer(module_name(path))
    upward = {n for n in touches(imports(path), "compare") if layer(n) > own}
    assert not upward, f"{module_name(path)} imports {sorted(upward)} from a layer above its own"


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return {m.split(".")[0] for m in out.split()}


def test_importing_the_measurement_side_loads_no_sympy():
    assert "sympy" not in loaded_after("import empirical, empirical.training, empirical.ensemble, empirical.quantities")


def test_the_command_line_parser_loads_neither_torch_nor_sympy():
    loaded = loaded_after("from compare.cli.main import build_parser; build_parser()")
    assert not {"torch", "sympy", "pandas", "matplotlib"} & loaded
