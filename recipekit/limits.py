"""Every resource limit recipekit enforces on untrusted input, in one place.

Recipes arrive from pull requests and model hubs, so each stage that could be
made to loop, recurse or allocate without bound checks one of these numbers and
reports a diagnostic (never an exception) when it is exceeded.  The values are
generous for real recipes: the largest public SparseML recipe is 60 KB, nests 4
levels deep and uses 48 aliases.
"""

from __future__ import annotations

#: Largest recipe file accepted, in bytes.
MAX_FILE_BYTES = 8 * 1024 * 1024

#: Deepest nesting of YAML collections (a recipe needs about 5).
MAX_DEPTH = 64

#: Most alias uses (`*name`) in one file.
MAX_ALIASES = 10_000

#: Most YAML nodes the document may contain once every alias is expanded.
#: This is what stops "billion laughs": aliases are cheap to parse but each
#: later walk of the tree would visit the expanded graph.
MAX_EXPANDED_NODES = 1_000_000

#: Longest `eval(...)` expression, in characters.
MAX_EXPRESSION_CHARS = 2_000

#: Deepest parenthesis / operator nesting inside one expression.
MAX_EXPRESSION_DEPTH = 50

#: Deepest expression tree (operators chained or nested); bounds the evaluator's recursion.
MAX_EXPRESSION_TREE_DEPTH = 200

#: Largest absolute exponent allowed for `**` between integers.
MAX_INT_EXPONENT = 256

#: Largest integer (in bits) an expression may produce.
MAX_INT_BITS = 256

#: Most mask updates one pruning instruction may list (shorter frequencies update every step).
MAX_PLAN_UPDATES = 1_000_000

#: Longest string or list an expression may produce.
MAX_SEQUENCE_LENGTH = 10_000
#: Items in one YAML list or entries in one mapping: checked while parsing, so a megabyte of
#: ``1, 1, 1, ...`` stops after this many items instead of costing the parser seconds.
MAX_COLLECTION_ITEMS = 10_000
