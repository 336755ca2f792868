"""Compile recipekit/compiler/expr.lark with lark into the LALR(1) tables recipekit ships.

lark is the grammar compiler, not a run-time dependency: importing lark and building
the parser costs about 50 ms, more than half of `recipe-lint`'s whole cold-start
budget, while the tables it computes are a few hundred lines of data that a
30-line driver (recipekit/compiler/expr.py) runs.  tests/test_expressions.py
fails when the committed tables differ from what this script produces.

Run: .venv/bin/python scripts/gen_expr_tables.py   (rewrites recipekit/compiler/expr_tables.py)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GRAMMAR = ROOT / "recipekit" / "compiler" / "expr.lark"
TABLES = ROOT / "recipekit" / "compiler" / "expr_tables.py"

HEADER = '''"""LALR(1) tables of the `eval(...)` expression language.

Generated from expr.lark by scripts/gen_expr_tables.py with lark {version}; do not edit.
"""
'''


DRIVER_ACTIONS = {"inline", "splice", "number", "string", "name", "args", "list", "call", "neg", "pos"}
DRIVER_ACTIONS |= {"add", "sub", "mul", "div", "floordiv", "mod", "pow"}


def build_parser() -> Any:
    from lark import Lark

    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", propagate_positions=True, maybe_placeholders=True)


def rule_action(rule: Any) -> str:
    """What the driver does on reducing ``rule``: build a node, pass a child through, or splice."""
    if rule.alias:
        return str(rule.alias)
    if rule.origin.name.startswith("_"):
        return "splice"  # lark inlines rules whose name starts with "_" into their parent
    if rule.options.expand1:
        return "inline"  # a `?rule` with one kept child is replaced by that child
    return str(rule.origin.name)


def canonical_numbers(states: dict[int, dict[str, Any]], start: int, shift: Any) -> dict[int, int]:
    """Number states breadth-first from the start, symbols in sorted order.

    lark numbers its states in an order that depends on string hashing, which
    changes from one Python process to the next; this order does not.
    """
    number = {start: 0}
    queue = [start]
    while queue:
        state = queue.pop(0)
        for _symbol, (action, target) in sorted(states[state].items(), key=lambda item: str(item[0])):
            if action is shift and target not in number:
                number[target] = len(number)
                queue.append(target)
    if len(number) != len(states):
        sys.exit("some parser states are unreachable from the start state; is the grammar broken?")
    return number


def quote(text: str) -> str:
    """A double-quoted literal, as ruff format writes it."""
    return json.dumps(str(text))


def render() -> str:
    import lark
    from lark.parsers.lalr_analysis import Shift

    parser = build_parser()
    # The basic lexer's order: an alternation tried first to last, longest patterns first.
    terminals = sorted(parser.terminals, key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
    rules = list(parser.rules)
    for rule in rules:
        # What recipekit/compiler/expr.py's driver knows how to build; a grammar change that
        # needs more must teach the driver first.
        if not rule.expansion or rule_action(rule) not in DRIVER_ACTIONS:
            sys.exit(f"the expression driver cannot reduce {rule}: update recipekit/compiler/expr.py first")
    kept = sorted({s.name for r in rules for s in r.expansion if s.is_term and not s.filter_out})
    table = parser.parser.parser.parser.parse_table
    index = {id(rule): number for number, rule in enumerate(rules)}

    lines = [HEADER.format(version=lark.__version__)]
    lines.append("#: Terminals in lexing order: the first that matches wins, as in lark's basic lexer.")
    lines.append("TERMINALS: tuple[tuple[str, str], ...] = (")
    lines.extend(f"    ({quote(t.name)}, {quote(t.pattern.to_regexp())})," for t in terminals)
    lines.append(")")
    lines.append("#: Terminals the lexer skips.")
    lines.append(f"IGNORED: frozenset[str] = frozenset({{{', '.join(quote(name) for name in sorted(parser.ignore_tokens))}}})")
    lines.append("#: Terminals whose text is a value; the others are punctuation the tree drops.")
    lines.append(f"KEPT: frozenset[str] = frozenset({{{', '.join(quote(name) for name in kept)}}})")
    lines.append("#: Rules: (nonterminal, number of symbols, action of the driver).")
    lines.append("RULES: tuple[tuple[str, int, str], ...] = (")
    for rule_number, rule in enumerate(rules):
        symbols = " ".join(s.name for s in rule.expansion)
        lines.append(f"    ({quote(rule.origin.name)}, {len(rule.expansion)}, {quote(rule_action(rule))}),  # {rule_number}: {symbols}")
    lines.append(")")
    lines.append("#: Per state, symbol -> next state (shift or goto, >= 0) or ~rule (reduce, < 0).")
    lines.append("STATES: tuple[dict[str, int], ...] = (")
    number = canonical_numbers(table.states, table.start_states["start"], Shift)
    for state in sorted(table.states, key=number.__getitem__):
        actions = table.states[state]
        entries = [
            f"{quote(symbol)}: {number[target] if action is Shift else ~index[id(target)]}"
            for symbol, (action, target) in sorted(actions.items(), key=lambda item: str(item[0]))
        ]
        lines.append(f"    # state {number[state]}")
        if entries:
            lines.extend(["    {", *(f"        {entry}," for entry in entries), "    },"])
        else:
            lines.append("    {},")
    lines.append(")")
    lines.append(f"START_STATE = {number[table.start_states['start']]}")
    lines.append(f"ACCEPT_STATE = {number[table.end_states['start']]}")
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        stale = TABLES.read_text(encoding="utf-8") != render()
        print(f"{TABLES.relative_to(ROOT)} is {'stale: run scripts/gen_expr_tables.py' if stale else 'up to date'}")
        sys.exit(1 if stale else 0)
    TABLES.write_text(render(), encoding="utf-8")
    print(f"wrote {TABLES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
