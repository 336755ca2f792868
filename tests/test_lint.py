"""recipe-lint: rule positions, output formats, configuration, suppressions, fixes."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator

from recipekit import cli
from recipekit.diagnostics import Diagnostic, Edit, Fix, Location, Severity
from recipekit.lint.fix import fix_until_stable
from recipekit.lint.rule_docs import parse_rule_doc
from recipekit.lint_rules import RULES
from recipekit.source import Source
from tests.helpers import CORPUS, GOLDEN, SHARED
from tests.test_rule_docs import lint

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "recipe.yaml"

#: Where each rule's Bad example is reported (reviewed by hand against the docstrings).
POSITIONS = {
    "L301": (7, 16), "L302": (10, 16), "L303": (7, 16), "L304": (8, 23), "L305": (4, 16), "L306": (5, 5), "L308": (8, 23),
    "L307": (5, 5), "L311": (4, 20), "L312": (5, 21), "L313": (9, 16), "L314": (4, 20), "L315": (10, 24), "L316": (10, 13),
    "L317": (7, 13), "L318": (12, 20), "L320": (3, 52), "L321": (3, 14), "L322": (3, 13), "L323": (3, 13),
    "L324": (3, 13), "L325": (3, 13), "L326": (2, 5), "L331": (7, 42), "L332": (13, 5), "L333": (13, 18), "L338": (4, 14),
    "L334": (7, 5), "L335": (5, 42), "L336": (5, 7), "L337": (7, 42), "L340": (4, 16), "L341": (4, 16), "L342": (12, 18),
    "L343": (10, 18), "L344": (6, 18),
    "L350": (7, 16), "L351": (8, 23), "L360": (3, 20), "L361": (2, 1), "L362": (3, 20), "L363": (5, 5),
    "L364": (5, 5),
    "L370": (1, 1), "L371": (2, 3), "L372": (1, 1), "L373": (3, 5), "L374": (6, 5), "L375": (4, 7), "L376": (5, 14),
    "L377": (6, 16), "L378": (7, 91), "L379": (6, 13), "L380": (2, 5), "L381": (2, 5), "L382": (8, 23), "L383": (7, 16), "L384": (5, 44),
}  # fmt: skip


def test_every_rule_has_a_position_test() -> None:
    assert set(POSITIONS) == set(RULES)


@pytest.mark.parametrize("code", sorted(POSITIONS))
def test_bad_example_position(code: str) -> None:
    found = lint(parse_rule_doc(RULES[code].__doc__ or "").bad, code)
    assert found[0] == (*POSITIONS[code], code)


def run(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    runner = CliRunner()
    if cwd is None:
        result = runner.invoke(cli.lint_command, list(args))
    else:
        with runner.isolated_filesystem(temp_dir=cwd):
            result = runner.invoke(cli.lint_command, list(args))
    return result.exit_code, result.output


WARN = """
modifiers:
  - !SetLearningRateModifier
    learning_rate: 1e-3   # a YAML 1.1 string
    start_epoch: 0.0
    end_epoch: 5.0
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip("\n"))
    return path


def test_concise_format_and_fix_marker(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", WARN)
    code, output = run("--format", "concise", str(path))
    assert code == 0
    assert output.splitlines()[:2] == [
        f"{path}:3:20: L360 [*] 1e-3 is a string for SparseML (YAML 1.1) but not in YAML 1.2; write 1.0e-3",
        f"{path}:5:5: L306 [*] SparseML ignores end_epoch on SetLearningRateModifier and always uses -1.0; remove it",
    ]


def test_yaml11_value_is_reported_at_the_anchor_not_at_aliases(tmp_path: Path) -> None:
    text = "lr: &lr 1e-3\nmodifiers:\n  - !SetLearningRateModifier\n    learning_rate: *lr\n    start_epoch: 0.0\n"
    _, output = run("--format", "concise", str(write(tmp_path, "r.yaml", text)))
    assert [line.split(": ")[1].split()[0] for line in output.splitlines()[:-1]] == ["L360"]
    assert output.startswith(f"{tmp_path / 'r.yaml'}:1:9: L360")


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", WARN)
    assert run(str(path))[0] == 0
    assert run("--strict", str(path))[0] == 1


def test_github_annotations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "r.yaml", WARN)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _, output = run(str(path))
    lines = output.splitlines()
    escaped = str(path).replace(":", "%3A").replace(",", "%2C")
    assert lines[0] == f"::group::{path}"
    assert lines[1] == (
        f"::warning file={escaped},line=3,col=20,endLine=3,endColumn=24,title=recipe-lint (L360)::"
        "L360 1e-3 is a string for SparseML (YAML 1.1) but not in YAML 1.2; write 1.0e-3"
    )
    assert "::endgroup::" in lines


@pytest.mark.skipif(not (SHARED / "schemas" / "sarif-2.1.0.json").is_file(), reason="../shared/schemas is not available")
def test_sarif_validates_against_the_official_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ranges = "  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: {end}\n"
    write(tmp_path, "r.yaml", WARN + ranges.format(end="1.0") + ranges.format(end="2.0"))
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "out.sarif"
    code, _ = run("--format", "sarif", "-o", str(report), "r.yaml")
    assert code == 0
    document = json.loads(report.read_text())
    schema = json.loads((SHARED / "schemas" / "sarif-2.1.0.json").read_text())
    assert list(Draft7Validator(schema).iter_errors(document)) == []
    run_ = document["runs"][0]
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run_["results"])
    result = next(r for r in run_["results"] if r["ruleId"] == "L307")
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "r.yaml"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 9
    assert result["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 6


def test_suppression_comments(tmp_path: Path) -> None:
    text = WARN.replace("# a YAML 1.1 string", "# recipe-lint: disable=L360").replace(
        "    end_epoch: 5.0", "    # recipe-lint: disable=L306\n    end_epoch: 5.0"
    )
    path = write(tmp_path, "r.yaml", text)
    assert run("--format", "concise", str(path))[1].splitlines()[0].startswith("Checked 1 file: no problems")
    path.write_text("# recipe-lint: disable-file=L360, L306, L307\n" + text.lstrip("\n"))
    _, output = run("--format", "concise", str(path))
    # The file-wide suppression silences L360 and L306 first, so the per-line ones are now stale.
    assert output.splitlines()[:3] == [
        f"{path}:1:1: L300 suppression of L307 silences nothing here; remove it",
        f"{path}:4:27: L300 suppression of L360 silences nothing here; remove it",
        f"{path}:6:5: L300 suppression of L306 silences nothing here; remove it",
    ]


def test_config_in_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "r.yaml", WARN)
    (tmp_path / "pyproject.toml").write_text('[tool.recipe-lint]\nignore = ["L306"]\n[tool.recipe-lint.severity]\nL360 = "error"\n')
    code, output = run("--config", str(tmp_path / "pyproject.toml"), "--format", "concise", str(tmp_path / "r.yaml"))
    assert code == 1 and "L360" in output and "L306" not in output


def test_config_file_is_found_and_unknown_keys_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "r.yaml", WARN)
    (tmp_path / "recipe-lint.toml").write_text('select = ["L3"]\nper-file-ignores = {"*.yaml" = ["L360"]}\n')
    monkeypatch.chdir(tmp_path)
    code, output = run("--format", "concise", "r.yaml")
    assert code == 0 and "L360" not in output and "L306" in output
    (tmp_path / "recipe-lint.toml").write_text('selct = ["L3"]\n')
    code, output = run("r.yaml")
    assert code == 2 and "did you mean 'select'?" in output


def test_fix_rewrites_exact_spans_and_keeps_everything_else(tmp_path: Path) -> None:
    path = write(
        tmp_path, "r.yaml", "# header comment\n" + WARN.lstrip("\n") + "  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 010\n"
    )
    code, output = run("--fix", str(path))
    assert code == 0 and "Fixed 3 problems." in output
    assert path.read_text() == (
        "# header comment\nmodifiers:\n  - !SetLearningRateModifier\n    learning_rate: 1.0e-3   # a YAML 1.1 string\n"
        "    start_epoch: 0.0\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 8\n"
    )
    assert run("--fix", str(path))[1] == "Checked 1 file: no problems.\n"


def test_params_manifest_and_steps(tmp_path: Path) -> None:
    manifest = tmp_path / "params.json"
    manifest.write_text(json.dumps([{"name": "features.0.weight", "shape": [8, 3, 3, 3], "module_type": "Conv2d"}]))
    code, output = run("--params", str(manifest), "--format", "concise", str(EXAMPLE))
    assert code == 0 and output.endswith("no problems.\n")
    manifest.write_text("classifier.weight\n")
    code, output = run("--params", str(manifest), "--format", "concise", str(EXAMPLE))
    assert code == 1
    assert output.splitlines()[0] == f"{EXAMPLE}:28:14: L320 're:features.*.weight' matches no parameter of the model"


def test_steps_per_epoch_enables_step_checks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "r.yaml",
        "modifiers:\n  - !LearningRateFunctionModifier\n    lr_func: linear\n    init_lr: 0.1\n"
        "    final_lr: 0.01\n    start_epoch: 0.0\n    end_epoch: 2.9\n",
    )
    assert run(str(path)) == (0, "Checked 1 file: no problems.\n")
    _, output = run("--steps-per-epoch", "4", "--format", "concise", str(path))
    assert output.splitlines()[0] == (
        f"{path}:7:16: L350 end_epoch 2.9 falls between steps at 4 steps per epoch: it takes effect at step 12 (epoch 3); write 3 to say so"
    )


SEED_VARIANTS = [
    ("end_epoch: eval(pruning_end)", "end_epoch: 3.0", (32, 16, "L301")),
    ("end_epoch: eval(pruning_end)", "end_epoch: -1", (32, 16, "L303")),
    ("update_frequency: 1.0", "update_frequency: 50.0", (33, 23, "L304")),
    ("milestones: eval(lr_milestones)", "milestones: [50, 30]", (22, 7, "L341")),
    ("inter_func: cubic", "inter_func: cubic\n    mask_type: channel", (35, 16, "L313")),
    ("leave_enabled: true", "leave_enabled: false", (35, 20, "L318")),
    ("      gamma: 0.1", "      gama: 0.1", (22, 7, "L340")),
    ("init_sparsity: 0.05", "init_sparsity: 0.9", (29, 20, "L311")),
]


def test_seed_example_lints_clean() -> None:
    assert run("--strict", str(EXAMPLE)) == (0, "Checked 1 file: no problems.\n")


@pytest.mark.parametrize(("old", "new", "expected"), SEED_VARIANTS)
def test_seed_example_variants(tmp_path: Path, old: str, new: str, expected: tuple[int, int, str]) -> None:
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new))
    _, output = run("--format", "json", str(path))
    found = [(d["line"], d["column"], d["code"]) for d in json.loads(output)]
    assert expected in found, found


def expectations() -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    with (Path(__file__).parent / "expectations" / "corpus_lint_errors.tsv").open() as handle:
        for row in csv.reader((line for line in handle if not line.startswith("#")), delimiter="\t"):
            counts[(row[0], row[1])] = int(row[2])
    return counts


@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(), reason="../shared/corpus is not available")
def test_corpus_errors_are_exactly_the_reviewed_ones(tmp_path: Path) -> None:
    with (CORPUS / "MANIFEST.tsv").open() as handle:
        recipes = [row["file"] for row in csv.DictReader(handle, delimiter="\t") if row["format"] == "v1"]
    report = tmp_path / "report.json"
    run("--format", "json", "-o", str(report), *(str(CORPUS / r) for r in recipes))
    found = Counter(
        (str(Path(d["path"]).relative_to(CORPUS)), d["code"]) for d in json.loads(report.read_text()) if d["severity"] == "error"
    )
    assert found == expectations()
    ran = {
        json.loads(gzip.decompress(p.read_bytes()))["recipe"]
        for p in (GOLDEN / "sparseml").glob("*.json.gz")
        if "sparseml_error" not in json.loads(gzip.decompress(p.read_bytes()))
    }
    assert not {recipe for recipe, _ in found} & ran


def test_gradual_param_inter_func_is_reported_as_ignored(tmp_path: Path) -> None:
    text = (
        "modifiers:\n  - !GradualParamModifier\n    params: [fc.weight]\n    init_val: 0.0\n    final_val: 1.0\n"
        "    start_epoch: 0.0\n    end_epoch: 2.0\n    update_frequency: 0.5\n    inter_func: cubic\n"
    )
    code, output = run("--format", "concise", str(write(tmp_path, "r.yaml", text)))
    assert code == 0
    assert (
        f"{tmp_path / 'r.yaml'}:9:5: L306 [*] SparseML ignores inter_func on GradualParamModifier and always uses linear; remove it"
        in output.splitlines()
    )


def test_fix_writes_the_file_once_however_many_rounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import recipekit.lint.fix as fix_module

    writes: list[str] = []
    real = fix_module.write_atomically
    monkeypatch.setattr(fix_module, "write_atomically", lambda path, text: (writes.append(text), real(path, text))[1])
    # The same recipe as above: its three fixes take more than one round (010 -> 8 only once YAML 1.1 is settled).
    path = write(tmp_path, "r.yaml", WARN.lstrip("\n") + "  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 010\n")
    code, output = run("--fix", str(path))
    assert code == 0 and "Fixed 3 problems." in output
    assert len(writes) == 1 and writes[0].endswith("end_epoch: 8\n")


def _fixable(code: str, start: int, end: int, text: str) -> Diagnostic:
    location = Location("r.yaml", 1, start + 1, 1, end + 1)
    return Diagnostic(code, Severity.WARNING, "m", location, (), Fix(f"write {text}", (Edit(start, end, text, location),)), "rule")


def test_fix_that_would_add_an_error_is_reverted_and_reported() -> None:
    # Two fixes in one round: "a"->"b" is fine, "c"->"x" makes the (fake) linter report an error.
    def relint(text: str) -> tuple[Source | None, list[Diagnostic]]:
        found = [_fixable("L360", 2, 3, "x")] if "c" in text else []
        if "x" in text:
            found.append(Diagnostic("S205", Severity.ERROR, "bad", Location("r.yaml", 1, 3, 1, 4)))
        return Source("r.yaml", text), found

    source = Source("r.yaml", "a c")
    outcome = fix_until_stable(source, [_fixable("L305", 0, 1, "b"), _fixable("L360", 2, 3, "x")], relint)
    assert outcome.source is not None and outcome.source.text == "b c"
    assert outcome.fixed == 1
    assert [(d.code, d.location.column) for d in outcome.reverted] == [("L399", 3)]
    assert "would add a S205 error" in outcome.reverted[0].message
