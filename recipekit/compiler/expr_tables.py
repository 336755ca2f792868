"""LALR(1) tables of the `eval(...)` expression language.

Generated from expr.lark by scripts/gen_expr_tables.py with lark 1.3.1; do not edit.
"""

#: Terminals in lexing order: the first that matches wins, as in lark's basic lexer.
TERMINALS: tuple[tuple[str, str], ...] = (
    ("NUMBER", "(\\d[\\d_]*\\.?[\\d_]*|\\.\\d[\\d_]*)([eE][+-]?\\d+)?"),
    ("NAME", "[A-Za-z_][A-Za-z_0-9]*"),
    ("STRING", "'[^'\\\\]*'|\"[^\"\\\\]*\""),
    ("WS", "(?:[ \t\f\r\n])+"),
    ("__ANON_0", "//"),
    ("__ANON_1", "\\*\\*"),
    ("COMMA", ","),
    ("LPAR", "\\("),
    ("LSQB", "\\["),
    ("MINUS", "\\-"),
    ("PERCENT", "%"),
    ("PLUS", "\\+"),
    ("RPAR", "\\)"),
    ("RSQB", "\\]"),
    ("SLASH", "/"),
    ("STAR", "\\*"),
)
#: Terminals the lexer skips.
IGNORED: frozenset[str] = frozenset({"WS"})
#: Terminals whose text is a value; the others are punctuation the tree drops.
KEPT: frozenset[str] = frozenset({"NAME", "NUMBER", "STRING"})
#: Rules: (nonterminal, number of symbols, action of the driver).
RULES: tuple[tuple[str, int, str], ...] = (
    ("start", 1, "inline"),  # 0: sum
    ("sum", 1, "inline"),  # 1: product
    ("sum", 3, "add"),  # 2: sum PLUS product
    ("sum", 3, "sub"),  # 3: sum MINUS product
    ("product", 1, "inline"),  # 4: unary
    ("product", 3, "mul"),  # 5: product STAR unary
    ("product", 3, "div"),  # 6: product SLASH unary
    ("product", 3, "floordiv"),  # 7: product __ANON_0 unary
    ("product", 3, "mod"),  # 8: product PERCENT unary
    ("unary", 1, "inline"),  # 9: power
    ("unary", 2, "neg"),  # 10: MINUS unary
    ("unary", 2, "pos"),  # 11: PLUS unary
    ("power", 1, "inline"),  # 12: atom
    ("power", 3, "pow"),  # 13: atom __ANON_1 unary
    ("atom", 1, "number"),  # 14: NUMBER
    ("atom", 1, "string"),  # 15: STRING
    ("atom", 4, "call"),  # 16: NAME LPAR args RPAR
    ("atom", 3, "call"),  # 17: NAME LPAR RPAR
    ("atom", 1, "name"),  # 18: NAME
    ("atom", 3, "list"),  # 19: LSQB args RSQB
    ("atom", 2, "list"),  # 20: LSQB RSQB
    ("atom", 3, "inline"),  # 21: LPAR sum RPAR
    ("args", 3, "args"),  # 22: sum __args_star_0 COMMA
    ("args", 2, "args"),  # 23: sum __args_star_0
    ("args", 2, "args"),  # 24: sum COMMA
    ("args", 1, "args"),  # 25: sum
    ("__args_star_0", 2, "splice"),  # 26: COMMA sum
    ("__args_star_0", 3, "splice"),  # 27: __args_star_0 COMMA sum
)
#: Per state, symbol -> next state (shift or goto, >= 0) or ~rule (reduce, < 0).
STATES: tuple[dict[str, int], ...] = (
    # state 0
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "product": 10,
        "start": 11,
        "sum": 12,
        "unary": 13,
    },
    # state 1
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "product": 10,
        "sum": 14,
        "unary": 13,
    },
    # state 2
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "RSQB": 15,
        "STRING": 7,
        "args": 16,
        "atom": 8,
        "power": 9,
        "product": 10,
        "sum": 17,
        "unary": 13,
    },
    # state 3
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "unary": 18,
    },
    # state 4
    {
        "$END": -19,
        "COMMA": -19,
        "LPAR": 19,
        "MINUS": -19,
        "PERCENT": -19,
        "PLUS": -19,
        "RPAR": -19,
        "RSQB": -19,
        "SLASH": -19,
        "STAR": -19,
        "__ANON_0": -19,
        "__ANON_1": -19,
    },
    # state 5
    {
        "$END": -15,
        "COMMA": -15,
        "MINUS": -15,
        "PERCENT": -15,
        "PLUS": -15,
        "RPAR": -15,
        "RSQB": -15,
        "SLASH": -15,
        "STAR": -15,
        "__ANON_0": -15,
        "__ANON_1": -15,
    },
    # state 6
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "unary": 20,
    },
    # state 7
    {
        "$END": -16,
        "COMMA": -16,
        "MINUS": -16,
        "PERCENT": -16,
        "PLUS": -16,
        "RPAR": -16,
        "RSQB": -16,
        "SLASH": -16,
        "STAR": -16,
        "__ANON_0": -16,
        "__ANON_1": -16,
    },
    # state 8
    {
        "$END": -13,
        "COMMA": -13,
        "MINUS": -13,
        "PERCENT": -13,
        "PLUS": -13,
        "RPAR": -13,
        "RSQB": -13,
        "SLASH": -13,
        "STAR": -13,
        "__ANON_0": -13,
        "__ANON_1": 21,
    },
    # state 9
    {
        "$END": -10,
        "COMMA": -10,
        "MINUS": -10,
        "PERCENT": -10,
        "PLUS": -10,
        "RPAR": -10,
        "RSQB": -10,
        "SLASH": -10,
        "STAR": -10,
        "__ANON_0": -10,
    },
    # state 10
    {
        "$END": -2,
        "COMMA": -2,
        "MINUS": -2,
        "PERCENT": 22,
        "PLUS": -2,
        "RPAR": -2,
        "RSQB": -2,
        "SLASH": 23,
        "STAR": 24,
        "__ANON_0": 25,
    },
    # state 11
    {},
    # state 12
    {
        "$END": -1,
        "MINUS": 26,
        "PLUS": 27,
    },
    # state 13
    {
        "$END": -5,
        "COMMA": -5,
        "MINUS": -5,
        "PERCENT": -5,
        "PLUS": -5,
        "RPAR": -5,
        "RSQB": -5,
        "SLASH": -5,
        "STAR": -5,
        "__ANON_0": -5,
    },
    # state 14
    {
        "MINUS": 26,
        "PLUS": 27,
        "RPAR": 28,
    },
    # state 15
    {
        "$END": -21,
        "COMMA": -21,
        "MINUS": -21,
        "PERCENT": -21,
        "PLUS": -21,
        "RPAR": -21,
        "RSQB": -21,
        "SLASH": -21,
        "STAR": -21,
        "__ANON_0": -21,
        "__ANON_1": -21,
    },
    # state 16
    {
        "RSQB": 29,
    },
    # state 17
    {
        "COMMA": 30,
        "MINUS": 26,
        "PLUS": 27,
        "RPAR": -26,
        "RSQB": -26,
        "__args_star_0": 31,
    },
    # state 18
    {
        "$END": -11,
        "COMMA": -11,
        "MINUS": -11,
        "PERCENT": -11,
        "PLUS": -11,
        "RPAR": -11,
        "RSQB": -11,
        "SLASH": -11,
        "STAR": -11,
        "__ANON_0": -11,
    },
    # state 19
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "RPAR": 32,
        "STRING": 7,
        "args": 33,
        "atom": 8,
        "power": 9,
        "product": 10,
        "sum": 17,
        "unary": 13,
    },
    # state 20
    {
        "$END": -12,
        "COMMA": -12,
        "MINUS": -12,
        "PERCENT": -12,
        "PLUS": -12,
        "RPAR": -12,
        "RSQB": -12,
        "SLASH": -12,
        "STAR": -12,
        "__ANON_0": -12,
    },
    # state 21
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "unary": 34,
    },
    # state 22
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "unary": 35,
    },
    # state 23
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "unary": 36,
    },
    # state 24
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "unary": 37,
    },
    # state 25
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "unary": 38,
    },
    # state 26
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "product": 39,
        "unary": 13,
    },
    # state 27
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "product": 40,
        "unary": 13,
    },
    # state 28
    {
        "$END": -22,
        "COMMA": -22,
        "MINUS": -22,
        "PERCENT": -22,
        "PLUS": -22,
        "RPAR": -22,
        "RSQB": -22,
        "SLASH": -22,
        "STAR": -22,
        "__ANON_0": -22,
        "__ANON_1": -22,
    },
    # state 29
    {
        "$END": -20,
        "COMMA": -20,
        "MINUS": -20,
        "PERCENT": -20,
        "PLUS": -20,
        "RPAR": -20,
        "RSQB": -20,
        "SLASH": -20,
        "STAR": -20,
        "__ANON_0": -20,
        "__ANON_1": -20,
    },
    # state 30
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "RPAR": -25,
        "RSQB": -25,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "product": 10,
        "sum": 41,
        "unary": 13,
    },
    # state 31
    {
        "COMMA": 42,
        "RPAR": -24,
        "RSQB": -24,
    },
    # state 32
    {
        "$END": -18,
        "COMMA": -18,
        "MINUS": -18,
        "PERCENT": -18,
        "PLUS": -18,
        "RPAR": -18,
        "RSQB": -18,
        "SLASH": -18,
        "STAR": -18,
        "__ANON_0": -18,
        "__ANON_1": -18,
    },
    # state 33
    {
        "RPAR": 43,
    },
    # state 34
    {
        "$END": -14,
        "COMMA": -14,
        "MINUS": -14,
        "PERCENT": -14,
        "PLUS": -14,
        "RPAR": -14,
        "RSQB": -14,
        "SLASH": -14,
        "STAR": -14,
        "__ANON_0": -14,
    },
    # state 35
    {
        "$END": -9,
        "COMMA": -9,
        "MINUS": -9,
        "PERCENT": -9,
        "PLUS": -9,
        "RPAR": -9,
        "RSQB": -9,
        "SLASH": -9,
        "STAR": -9,
        "__ANON_0": -9,
    },
    # state 36
    {
        "$END": -7,
        "COMMA": -7,
        "MINUS": -7,
        "PERCENT": -7,
        "PLUS": -7,
        "RPAR": -7,
        "RSQB": -7,
        "SLASH": -7,
        "STAR": -7,
        "__ANON_0": -7,
    },
    # state 37
    {
        "$END": -6,
        "COMMA": -6,
        "MINUS": -6,
        "PERCENT": -6,
        "PLUS": -6,
        "RPAR": -6,
        "RSQB": -6,
        "SLASH": -6,
        "STAR": -6,
        "__ANON_0": -6,
    },
    # state 38
    {
        "$END": -8,
        "COMMA": -8,
        "MINUS": -8,
        "PERCENT": -8,
        "PLUS": -8,
        "RPAR": -8,
        "RSQB": -8,
        "SLASH": -8,
        "STAR": -8,
        "__ANON_0": -8,
    },
    # state 39
    {
        "$END": -4,
        "COMMA": -4,
        "MINUS": -4,
        "PERCENT": 22,
        "PLUS": -4,
        "RPAR": -4,
        "RSQB": -4,
        "SLASH": 23,
        "STAR": 24,
        "__ANON_0": 25,
    },
    # state 40
    {
        "$END": -3,
        "COMMA": -3,
        "MINUS": -3,
        "PERCENT": 22,
        "PLUS": -3,
        "RPAR": -3,
        "RSQB": -3,
        "SLASH": 23,
        "STAR": 24,
        "__ANON_0": 25,
    },
    # state 41
    {
        "COMMA": -27,
        "MINUS": 26,
        "PLUS": 27,
        "RPAR": -27,
        "RSQB": -27,
    },
    # state 42
    {
        "LPAR": 1,
        "LSQB": 2,
        "MINUS": 3,
        "NAME": 4,
        "NUMBER": 5,
        "PLUS": 6,
        "RPAR": -23,
        "RSQB": -23,
        "STRING": 7,
        "atom": 8,
        "power": 9,
        "product": 10,
        "sum": 44,
        "unary": 13,
    },
    # state 43
    {
        "$END": -17,
        "COMMA": -17,
        "MINUS": -17,
        "PERCENT": -17,
        "PLUS": -17,
        "RPAR": -17,
        "RSQB": -17,
        "SLASH": -17,
        "STAR": -17,
        "__ANON_0": -17,
        "__ANON_1": -17,
    },
    # state 44
    {
        "COMMA": -28,
        "MINUS": 26,
        "PLUS": 27,
        "RPAR": -28,
        "RSQB": -28,
    },
)
START_STATE = 0
ACCEPT_STATE = 11
