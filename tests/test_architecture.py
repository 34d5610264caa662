"""The package layering of docs/architecture.md: who may import whom, and which imports stay torch-free."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> the project's packages (or single modules) it may import, lazily or not
ALLOWED_IMPORTS: dict[str, set[str]] = {
    # a model partner of the Gymnasium wrapper loads through the one PPO loader, lazily
    "frogtoad_env": {"agents.checkpoints"},
    "experiment": {"frogtoad_env"},
    "cmni": {"frogtoad_env", "experiment"},
    "agents": {"frogtoad_env", "experiment", "cmni"},
    # a supervised run's report loads its classifier and test split; supervised.training for the classifier's
    # constructor and the untrained null, never to train
    "evaluation": {"frogtoad_env", "experiment", "cmni", "agents.checkpoints", "supervised.config", "supervised.dataset",
                   "supervised.classifier", "supervised.training"},
    "supervised": {"frogtoad_env", "experiment", "cmni", "agents.coupled"},
    # a sweep trains runs (agents.training or supervised.training, in its worker processes), measures each
    # run's mirror-ablation effect (evaluation.ablation_effect, torch only while measuring) and summarises them
    "sweeps": {"frogtoad_env", "experiment", "agents.training", "supervised.config", "supervised.training",
               "evaluation.statistics", "evaluation.ablation_effect"},
}


def _project_imports(package: str) -> dict[str, set[str]]:
    """Module imported from another project package -> the files of ``package`` that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] in ALLOWED_IMPORTS and name.split(".")[0] != package:
                    found.setdefault(name, set()).add(path.name)
    return found


@pytest.mark.parametrize("package", list(ALLOWED_IMPORTS))
def test_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = ALLOWED_IMPORTS[package]
    bad = {
        name: files
        for name, files in _project_imports(package).items()
        if not any(name == a or name.startswith(f"{a}.") for a in allowed)
    }
    assert not bad, f"{package} imports {bad}; allowed: {sorted(allowed)}"


def _loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    return set(proc.stdout.split())


@pytest.mark.parametrize(
    "module",
    ["frogtoad_env", "experiment.run_folder", "experiment.cmni_csv", "experiment.resolve", "cmni.metric",
     "evaluation.statistics", "supervised.dataset", "sweeps.grid", "sweeps.report"],
)
def test_import_loads_no_network_library(module: str) -> None:
    loaded = _loaded_after_import(module)
    assert not {"torch", "stable_baselines3"} & loaded


def test_report_code_loads_no_training_and_no_torch_until_it_runs() -> None:
    """The report never needs the training code, nor torch until it loads a model."""
    loaded = _loaded_after_import("evaluation.report")
    assert "agents.training" not in loaded and "cmni.callback" not in loaded
    assert not {"torch", "stable_baselines3"} & loaded


def test_evaluate_cli_checks_flags_and_paths_before_loading_the_heavy_libraries() -> None:
    assert not {"torch", "stable_baselines3", "matplotlib", "evaluation.report"} & _loaded_after_import("evaluate")
