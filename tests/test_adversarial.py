"""Hostile recipes through the real CLI in a child process with a memory limit and a deadline.

Each case must end with a diagnostic at a position inside the file and exit code 1 (or 0 where
the input is valid), within MEMORY_LIMIT bytes of address space and DEADLINE seconds: a crash,
a traceback, a blown memory limit or a hang fails the test. The in-process tests of each limit
live beside the stage they protect (test_yaml, test_expressions, test_source).
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

MEMORY_LIMIT = 512 * 1024 * 1024
DEADLINE = 60
MODIFIER = "  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 2.0\n"


def bounded(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "recipekit", *args], capture_output=True, text=True, timeout=DEADLINE, preexec_fn=limit, cwd=cwd, check=False
    )


def billion_laughs() -> bytes:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return ("\n".join(lines) + "\nmodifiers:\n" + MODIFIER).encode()


def injection(expression: str) -> bytes:
    quoted = expression.replace('"', '\\"')
    return f'x: "eval({quoted})"\nmodifiers:\n{MODIFIER}'.encode()


CASES: dict[str, tuple[Callable[[], bytes], int, str]] = {
    # name: (file bytes, exit code, "line:col: CODE" the output must contain; "" for none)
    "billion-laughs": (billion_laughs, 1, "6:45: error: P110"),
    "deep-nesting": (lambda: b"x: " + b"[" * 10_000 + b"]" * 10_000 + b"\nmodifiers:\n" + MODIFIER.encode(), 1, "1:67: error: P109"),
    "one-megabyte-line": (lambda: b"x: '" + b"y" * (1 << 20) + b"'\nmodifiers:\n" + MODIFIER.encode(), 0, ""),
    "one-megabyte-flow-list": (lambda: b"x: [" + b"1, " * 350_000 + b"1]\nmodifiers:\n" + MODIFIER.encode(), 1, "1:4: error: P117"),
    "huge-block-list": (lambda: b"x:\n" + b"  - 1\n" * 200_000 + b"modifiers:\n" + MODIFIER.encode(), 1, "2:3: error: P117"),
    "invalid-utf8": (lambda: b"modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.\xff\n", 1, "3:20: error: P103"),
    "nul-byte": (lambda: b"modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0\x00\n", 1, "3:19: error: P104"),
    "python-object-apply": (
        lambda: b"x: !!python/object/apply:os.system ['touch PWNED']\nmodifiers:\n" + MODIFIER.encode(),
        1,
        "1:4: error: P112",
    ),
    "import-injection": (lambda: injection("__import__('os').system('touch PWNED')"), 1, "1:26: error: P120"),
    "attribute-injection": (lambda: injection("(1).__class__.__bases__"), 1, "1:13: error: P120"),
    "subscript-injection": (lambda: injection("[1][0]"), 1, "1:13: error: P120"),
    "lambda-injection": (lambda: injection("(lambda: 1)()"), 1, "1:17: error: P120"),
    "comprehension-injection": (lambda: injection("[a for a in (1,)]"), 1, "1:13: error: P120"),
    "power-tower": (lambda: injection("9**9**9"), 1, "1:11: error: P123"),
    "string-repetition": (lambda: injection("'x' * 10**9"), 1, "1:14: error: P123"),
    "self-reference": (lambda: b"a: eval(b)\nb: eval(a)\nmodifiers:\n" + MODIFIER.encode(), 1, "1:1: error: P125"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("command", ["lint", "compile", "normalize", "show"])
def test_hostile_recipe_is_bounded_and_reported(name: str, command: str, tmp_path: Path) -> None:
    make, expected_exit, code = CASES[name]
    data = make()
    recipe = tmp_path / "hostile.yaml"
    recipe.write_bytes(data)
    args = {
        "lint": ["lint", str(recipe)],
        "compile": ["compile", str(recipe), "--steps-per-epoch", "4", "-o", str(tmp_path / "plan.json")],
        "normalize": ["normalize", str(recipe)],
        "show": ["show", str(recipe), "--steps-per-epoch", "4"],
    }[command]
    result = bounded(*args, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "Traceback" not in output and result.returncode in (0, 1), output[-2000:]
    if command == "lint" or expected_exit == 1:
        assert result.returncode == expected_exit, output[-2000:]
    assert f"{recipe}:{code}" in output if code.startswith(tuple("0123456789")) else code in output
    last_line = data.count(b"\n") + 1
    for line, column in re.findall(rf"{re.escape(str(recipe))}:(\d+):(\d+):", output):
        assert 1 <= int(line) <= last_line and int(column) >= 1
    assert not (tmp_path / "PWNED").exists()


def test_hundred_megabyte_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    recipe = tmp_path / "huge.yaml"
    with recipe.open("wb") as stream:
        stream.truncate(100 * 1024 * 1024)  # sparse: the size is real, the disk is not used
    result = bounded("lint", str(recipe), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{recipe}:1:1: error: P102 file is 104857600 bytes, over the 8388608-byte limit" in result.stdout


def test_bom_crlf_and_tabs_keep_positions_exact(tmp_path: Path) -> None:
    recipe = tmp_path / "windows.yaml"
    text = (
        "modifiers:\r\n  - !EpochRangeModifier\r\n    start_epoch: 0.0\r\n"
        '    end_epoch: 2.0  # a\ttab in a comment\r\n    typo_key: "a\tb"\r\n'
    )
    recipe.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = bounded("lint", "--format", "concise", str(recipe), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.splitlines()[0].startswith(f"{recipe}:5:5: S203")
