"""Command line: `recipekit …` and `recipe-lint …`.

Thin by design: each command parses its arguments, calls one API function and
renders the result.  Exit codes: 0 clean (warnings allowed), 1 errors found,
2 usage error, 3 internal error.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from recipekit import __version__
from recipekit.diagnostics import Diagnostic
from recipekit.source import snippet_source

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

F = TypeVar("F", bound=Callable[..., Any])


def guarded(function: F) -> F:
    """Turn an unexpected exception into exit code 3 with a short report."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader went away (`recipe-lint … | head`): not a bug, and nothing left to say.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_ERRORS)
        except Exception as error:  # noqa: BLE001 - the whole point is to catch everything
            click.echo(f"recipekit: internal error: {type(error).__name__}: {error}", err=True)
            click.echo("This is a bug in recipekit, not in your recipe; please report it.", err=True)
            if os.environ.get("RECIPEKIT_DEBUG"):
                import traceback  # 3 ms every cold start would pay for the rare internal error

                traceback.print_exc()
            else:
                click.echo("Set RECIPEKIT_DEBUG=1 to see the traceback.", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def parse_var(text: str) -> tuple[str, Any]:
    """``name=value``; the value is JSON when it parses as JSON, else a string."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}", param_hint="--var")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


def parse_vars(values: tuple[str, ...]) -> dict[str, Any]:
    return dict(parse_var(v) for v in values)


VAR_OPTION = click.option(
    "--var", "variables", multiple=True, metavar="NAME=VALUE", help="Override a recipe variable (JSON value). Repeatable."
)
FORMATS = ("text", "concise", "json", "sarif", "github")


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (0 < value < float("inf")):
        raise click.BadParameter("must be a positive number")
    return value


class _ExistingPath(click.Path):
    """``click.Path(exists=True)`` that recognizes recipe or plan text pasted where a path belongs."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and _looks_like_text(value) and not os.path.exists(value):
            kind = "plan JSON" if value.lstrip().startswith("{") else "recipe text"
            self.fail(
                f"this is {kind}, not a path: save it to a file and pass the file's path "
                "(the Python API, recipekit.compile_recipe, also takes recipe text)",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


def _looks_like_text(value: str) -> bool:
    # A line break, a JSON object, YAML front matter or a modifier tag: no file name looks like that.
    stripped = value.lstrip()
    return "\n" in value or "\r" in value or stripped.startswith(("{", "---", "modifiers:")) or ("Modifier" in value and ": " in value)


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _load_config(config_path: str | None, stdin_filename: str | None = None) -> Any:
    from recipekit.lint.config import ConfigError, find_config, load_config

    # Standard input is configured as the file it stands for (ruff's --stdin-filename).
    start = os.path.dirname(os.path.abspath(stdin_filename)) if stdin_filename else os.getcwd()
    try:
        return load_config(config_path or find_config(start))
    except ConfigError as error:
        raise click.UsageError(str(error)) from None


@click.command("lint", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True, type=_ExistingPath(exists=True, allow_dash=True))
@VAR_OPTION
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format [default: text; github under GitHub Actions].",
)
@click.option(
    "--params",
    "manifest",
    type=click.Path(exists=True, dir_okay=False),
    help="The model's parameters (JSON manifest or one name per line).",
)
@click.option(
    "--steps-per-epoch", type=float, callback=_positive, help="Enable the checks that need the number of optimizer steps per epoch."
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place (text edits; comments and layout are kept).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="recipe-lint.toml or pyproject.toml to use.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to this file (atomically).")
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="GLOB",
    help="Skip files and directories matching GLOB (path or name) when walking a directory. Repeatable.",
)
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="With `-`: the name of the recipe read from standard input (its suffix, per-file ignores, configuration).",
)
@click.option(
    "--only-recipes",
    is_flag=True,
    help="Check named files only if they look like recipes, as a directory walk does (the pre-commit hooks use it).",
)
@click.version_option(__version__, prog_name="recipe-lint")
@guarded
def lint_command(
    paths: tuple[str, ...],
    variables: tuple[str, ...],
    output_format: str | None,
    manifest: str | None,
    steps_per_epoch: float | None,
    strict: bool,
    fix: bool,
    config_path: str | None,
    output: str | None,
    excludes: tuple[str, ...],
    stdin_filename: str | None,
    only_recipes: bool,
) -> None:
    """Check recipes: files as given; directories walked for recipes; `-` reads standard input.

    A walk skips hidden directories, virtual environments, git-ignored paths and --exclude
    globs, and checks only files that contain a modifier (see docs/ci.md); a file named here
    is always checked in full.
    """
    from recipekit.atomic import open_atomically
    from recipekit.diagnostics import Severity
    from recipekit.lint.driver import LintRun, lint_paths

    if "-" in paths and (len(paths) > 1 or fix):
        raise click.UsageError("`-` (standard input) is checked alone and without --fix (the fixed text would have nowhere to go)")
    if stdin_filename is not None and "-" not in paths:
        raise click.UsageError("--stdin-filename names the recipe read from `-`")
    config = _load_config(config_path, stdin_filename)
    if steps_per_epoch is not None:
        config.steps_per_epoch = steps_per_epoch
    manifest = manifest or config.params
    params = _load_manifest_or_exit(manifest) if manifest is not None else None
    chosen = output_format or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    color = output is None and _color()
    run = LintRun(config, parse_vars(variables), params, chosen, fix, color=color, excludes=excludes, only_recipes=only_recipes)
    if paths == ("-",):
        from recipekit.lint.driver import lint_stdin

        data = sys.stdin.buffer.read()
        name = stdin_filename or "<stdin>"

        def lint(stream: Any) -> Any:
            return lint_stdin(name, data, run, stream)
    else:

        def lint(stream: Any) -> Any:
            return lint_paths(paths, run, stream)

    if output is not None:
        with open_atomically(output) as stream:
            report = lint(stream)
    else:
        report = lint(sys.stdout)
    failing = {Severity.ERROR} | ({Severity.WARNING} if strict or config.strict else set())
    sys.exit(EXIT_ERRORS if report.any_of(failing) else EXIT_OK)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="recipekit")
def main() -> None:
    """recipekit: check, compile and run SparseML sparsification recipes."""


main.add_command(lint_command)


@main.command("normalize")
@click.argument("recipe", type=_ExistingPath(exists=True, dir_okay=False))
@VAR_OPTION
@guarded
def normalize_command(recipe: str, variables: tuple[str, ...]) -> None:
    """Print the resolved recipe as canonical JSON: variables evaluated, defaults filled in."""
    from recipekit.compiler import load_file
    from recipekit.compiler.normalize import normalize, to_json
    from recipekit.render import render_text

    loaded, diagnostics = load_file(recipe, parse_vars(variables))
    if diagnostics:
        source = snippet_source(recipe)
        click.echo(render_text(diagnostics, {source.path: source} if source else {}, color=False), nl=False, err=True)
    if loaded is None:
        sys.exit(EXIT_ERRORS)
    click.echo(to_json(normalize(loaded)), nl=False)


def _report_errors(diagnostics: list[Diagnostic], path: str) -> None:
    from recipekit.render import render_text

    if diagnostics:
        source = snippet_source(path)
        click.echo(render_text(diagnostics, {source.path: source} if source else {}, color=False), nl=False, err=True)


@main.command("compile")
@click.argument("recipe", type=_ExistingPath(exists=True, dir_okay=False))
@click.option("--steps-per-epoch", type=float, required=True, callback=_positive, help="Optimizer steps per epoch (may be fractional).")
@VAR_OPTION
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the plan here (atomically) instead of stdout.")
@click.option("--strict", is_flag=True, help="Refuse a plan that records a modifier the runtime will not execute (C410).")
@guarded
def compile_command(recipe: str, steps_per_epoch: float, variables: tuple[str, ...], output: str | None, strict: bool) -> None:
    """Compile a recipe into a step-indexed execution plan (JSON)."""
    from recipekit.atomic import write_atomically

    plan = _compile_or_exit(recipe, steps_per_epoch, variables, strict)
    if output is None:
        click.echo(plan.to_json(), nl=False)
    else:
        write_atomically(output, plan.to_json())


def _compile_or_exit(recipe: str, steps_per_epoch: float, variables: tuple[str, ...], strict: bool = False) -> Any:
    """The recipe's plan; its diagnostics go to stderr, and errors exit 1."""
    from recipekit import compile_with_diagnostics

    plan, diagnostics = compile_with_diagnostics(recipe, _as_steps(steps_per_epoch), parse_vars(variables), strict=strict)
    _report_errors(diagnostics, recipe)
    if plan is None:
        sys.exit(EXIT_ERRORS)
    return plan


def _require(module: str, why: str, packages: str) -> None:
    """Stop with an install hint when an optional dependency is missing (exit 1, nothing printed before)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        # recipekit's extras (`torch`, `plot`) install exactly these packages.
        raise click.ClickException(f"{why}, which is not installed here; install it with: pip install {packages}")


def _as_steps(value: float) -> float:
    return int(value) if float(value).is_integer() else value


def _load_plan_or_exit(path: str) -> Any:
    import warnings

    from recipekit.plan.model import PlanError, PlanWarning, load_plan

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PlanWarning)
            plan = load_plan(path)
    except PlanError as error:
        click.echo(f"{path}: error: {error}", err=True)
        sys.exit(EXIT_ERRORS)
    for warning in caught:
        click.echo(f"{path}: warning: {warning.message}", err=True)
    return plan


def _load_manifest_or_exit(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    from pathlib import Path

    from recipekit.plan.manifest import BinaryManifestError, ManifestError, load_manifest

    try:
        return load_manifest(Path(path))
    except BinaryManifestError as error:
        raise click.BadParameter(str(error), param_hint="--params") from None
    except ManifestError as error:
        click.echo(f"{path}: error: {error}", err=True)
        sys.exit(EXIT_ERRORS)


@main.command("expand")
@click.argument("plan_path", metavar="PLAN", type=_ExistingPath(exists=True, dir_okay=False))
@click.option(
    "--params",
    "manifest",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="Parameter manifest (what `recipekit params` writes, a JSON list of {name, shape, module_type}, or one name per line).",
)
@click.option("--param-groups", type=click.IntRange(min=1), default=1, show_default=True, help="Number of optimizer param groups.")
@click.option("--optimizer-lr", type=float, default=0.1, show_default=True, help="The optimizer's own LR before any modifier sets it.")
@click.option("--optimizer-weight-decay", type=float, default=0.0, show_default=True, help="The optimizer's own weight decay.")
@click.option(
    "--allow-unmatched", is_flag=True, help="Expand although a parameter pattern matches nothing in the manifest (a warning, not an error)."
)
@guarded
def expand_command(
    plan_path: str, manifest: str, param_groups: int, optimizer_lr: float, optimizer_weight_decay: float, allow_unmatched: bool
) -> None:
    """Print the plan's state per step as JSON lines: one line per step where something changes."""
    from recipekit.plan.simulate import expand, unmatched

    plan = _load_plan_or_exit(plan_path)
    params = _load_manifest_or_exit(manifest)
    # As recipe-lint --params (L320) and attach: a pattern that matches nothing is not silently an empty selection.
    missing = unmatched(plan, params)
    severity = "warning" if allow_unmatched else "error"
    for selector, pattern, hint in missing:
        where = f"{selector.get('path')}:{selector.get('line')}:{selector.get('column')}"
        click.echo(f"{where}: {severity}: L320 {pattern!r} matches no parameter of the model{hint}", err=True)
    if missing and not allow_unmatched:
        click.echo("expand stopped: the runtime refuses this plan at attach; fix the pattern or pass --allow-unmatched", err=True)
        sys.exit(EXIT_ERRORS)
    for event in expand(plan, params, param_groups, optimizer_lr, optimizer_weight_decay):
        click.echo(json.dumps(event, allow_nan=False))


@main.command("show")
@click.argument("path", metavar="RECIPE|PLAN", type=_ExistingPath(exists=True, dir_okay=False))
@click.option("--steps-per-epoch", type=float, callback=_positive, help="Needed when showing a recipe.")
@VAR_OPTION
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    help="Also draw LR, sparsity and QAT against epochs to this PNG (needs matplotlib).",
)
@guarded
def show_command(path: str, steps_per_epoch: float | None, variables: tuple[str, ...], plot_path: str | None) -> None:
    """A readable timeline of a recipe or plan: what happens when, per modifier."""
    from pathlib import Path

    from recipekit.plan.show import plot_schedule, timeline

    if plot_path is not None:
        _require("matplotlib", "--plot draws with matplotlib", "matplotlib")  # before printing anything
    if os.path.splitext(path)[1].lower() == ".json":
        plan = _load_plan_or_exit(path)
    else:
        if steps_per_epoch is None:
            raise click.UsageError("showing a recipe needs --steps-per-epoch")
        plan = _compile_or_exit(path, steps_per_epoch, variables)
    click.echo(timeline(plan), nl=False)
    if plot_path is not None:
        plot_schedule(plan, Path(plot_path))


@main.command("schema")
@click.option(
    "--modifier", "name", metavar="NAME", help="Print one modifier's schema (e.g. GMPruningModifier, QuantizationModifier-legacy)."
)
@click.option(
    "--format",
    "recipe_format",
    type=click.Choice(["v1", "v2"]),
    default="v1",
    show_default=True,
    help="v2: an editor-ready schema of v2 (stage-format) recipes, from llm-compressor's and SparseML 1.8's models.",
)
@guarded
def schema_command(name: str | None, recipe_format: str) -> None:
    """Print the JSON Schema (draft 2020-12) of the modifiers."""
    from recipekit import schema
    from recipekit.suggest import did_you_mean

    if recipe_format == "v2":
        from recipekit.schema.dialects import editor_schema

        click.echo(json.dumps(editor_schema(), indent=2))
        return
    if name is None:
        document = schema.bundle()
    elif name in schema.schema_names():
        document = schema.load_schema(name)
    else:
        hint = did_you_mean(name, schema.schema_names())
        raise click.BadParameter(f"unknown modifier {name!r}{hint}", param_hint="--modifier")
    click.echo(json.dumps(document, indent=2))


@main.command("lsp")
@click.option(
    "--editor-settings",
    is_flag=True,
    help="Print VS Code settings (yaml.customTags for every modifier tag, yaml.yamlVersion) as JSON, and exit.",
)
@click.option("--stdio", is_flag=True, help="Accepted for clients that pass it; standard input and output is the only transport.")
@guarded
def lsp_command(editor_settings: bool, stdio: bool) -> None:
    """Run the recipe language server on standard input and output (docs/editors.md)."""
    if editor_settings:
        from recipekit.lsp.editor_settings import vscode_settings

        click.echo(json.dumps(vscode_settings(), indent=2))
        return
    _require("pygls", "recipekit lsp runs on pygls", "'recipekit[lsp]'")
    from recipekit.lsp.boot import serve

    serve()


@main.command("params")
@click.option("--model", "model_spec", metavar="PACKAGE.MODULE:FACTORY", help="Build the model by calling this factory.")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False), help="Read a state dict (weights_only).")
@click.option(
    "--buffers",
    is_flag=True,
    help="With --checkpoint: list buffers too (running_mean, running_var, num_batches_tracked, integer tensors).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the manifest here (atomically) instead of stdout.")
@guarded
def params_command(model_spec: str | None, checkpoint: str | None, buffers: bool, output: str | None) -> None:
    """Write a parameter manifest for `recipe-lint --params` (needs torch).

    With --model, the manifest also lists the model's modules (what a QuantizationModifier's
    `ignore` names), with the QATMatMul attention modules the trainer callbacks add to a Hugging Face
    model SparseML's registry modified (BertModel, BertForQuestionAnswering); a checkpoint names tensors only.
    """
    from recipekit.atomic import write_atomically
    from recipekit.plan.manifest import ManifestError, from_factory

    if (model_spec is None) == (checkpoint is None):
        raise click.UsageError("give exactly one of --model and --checkpoint")
    if buffers and checkpoint is None:
        raise click.UsageError("--buffers applies to --checkpoint (a model's manifest lists its parameters and modules)")
    # The version the tests ran with; an unpinned `pip install torch` pulls whatever is newest (and CUDA wheels).
    _require("torch", "recipekit params builds the model or reads the checkpoint with PyTorch", "torch==2.13.0 numpy")
    try:
        if model_spec is not None:
            manifest: Any = from_factory(model_spec, prepare=_as_the_callbacks_modify_it)
        else:
            from recipekit.runtime.checkpoint import manifest_from_checkpoint

            manifest = manifest_from_checkpoint(checkpoint, buffers=buffers)  # type: ignore[arg-type]
    except ManifestError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_ERRORS)
    text = json.dumps(manifest, indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomically(output, text)


def _as_the_callbacks_modify_it(model: Any) -> None:
    """A Hugging Face model with the attention modules the trainer callbacks give it when the recipe quantizes."""
    if not type(model).__module__.startswith("transformers."):
        return
    from contextlib import suppress

    from recipekit.integrations.attention import AttentionError, quantize_attention

    with suppress(AttentionError):  # DistilBERT: the callbacks refuse it at train time, and say why
        quantize_attention(model, None)


@main.command("rules")
@click.option("--markdown", is_flag=True, help="Print docs/rules.md.")
@guarded
def rules_command(markdown: bool) -> None:
    """List the lint rules."""
    from recipekit.lint.docs import rules_markdown
    from recipekit.lint_rules import all_rules

    rules = all_rules()
    if markdown:
        click.echo(rules_markdown(), nl=False)
        return
    for code, rule in rules.items():
        summary = (rule.__doc__ or "").strip().splitlines()[0]
        click.echo(f"{code}  {rule.NAME:<32} {rule.SEVERITY.value:<8} {summary}")


@main.command("rule")
@click.argument("code")
@guarded
def rule_command(code: str) -> None:
    """Explain one rule or diagnostic code."""
    import inspect

    from recipekit.diagnostics import RENUMBERED
    from recipekit.lint_rules import all_rules, codes, compile_decision
    from recipekit.suggest import did_you_mean

    rules = all_rules()
    key = code.upper()
    key = RENUMBERED.get(key, key)
    table = codes()
    if key in rules:
        rule = rules[key]
        click.echo(f"{key} {rule.NAME} ({rule.SEVERITY.value})\n")
        click.echo(inspect.cleandoc(rule.__doc__ or ""))
        click.echo(f"\n{compile_decision(rule)}")
    elif key in table:
        info = table[key]
        click.echo(f"{key} {info.name} ({info.severity.value})\n\n{info.summary}")
    else:
        raise click.BadParameter(f"no rule or code {code!r}{did_you_mean(key, list(table))}", param_hint="CODE")


@main.command("codes")
@guarded
def codes_command() -> None:
    """Print the table of diagnostic codes as Markdown (docs/diagnostics.md)."""
    from recipekit.lint.docs import diagnostics_markdown

    click.echo(diagnostics_markdown(), nl=False)


def lint_main() -> None:
    """Entry point of the `recipe-lint` console script."""
    lint_command(prog_name="recipe-lint")
