"""Commands that need an optional dependency say how to install it, before printing anything."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recipekit import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "recipe.yaml"


def test_params_without_torch_gives_the_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails, find_spec says "absent"
    (tmp_path / "model.pt").write_bytes(b"")
    for args in (["--checkpoint", str(tmp_path / "model.pt")], ["--model", "mymodels:build"]):
        result = CliRunner().invoke(cli.main, ["params", *args])
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        assert result.stderr == (
            "Error: recipekit params builds the model or reads the checkpoint with PyTorch, which is not installed here; "
            "install it with: pip install torch==2.13.0 numpy\n"
        )


def test_plot_without_matplotlib_fails_before_the_timeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    png = tmp_path / "schedule.png"
    result = CliRunner().invoke(cli.main, ["show", str(EXAMPLE), "--steps-per-epoch", "5", "--plot", str(png)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: --plot draws with matplotlib, which is not installed here; install it with: pip install matplotlib\n"
    assert not png.exists()


def test_the_lightning_callback_without_lightning_gives_the_install_hint() -> None:
    pytest.importorskip("torch")
    import subprocess

    code = (
        "import sys\n"
        "for name in ('lightning', 'lightning.pytorch', 'pytorch_lightning'):\n"
        "    sys.modules[name] = None\n"
        "import recipekit.integrations.lightning as integration\n"
        "try:\n"
        "    integration.RecipeCallback\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    assert out == "recipekit.integrations.lightning needs Lightning: pip install 'recipekit[lightning]'\n"
