"""What a v2 (stage-format) recipe holds, with the nodes it was read from."""

from __future__ import annotations

from recipekit.compiler.yaml_tree import Map, Node, Scalar


class V2Modifier:
    """One ``Type: {args}`` entry of a ``*_modifiers`` mapping."""

    __slots__ = ("key", "args", "stage", "group", "group_key")

    def __init__(self, key: Scalar, args: Node, stage: str | None, group: str, group_key: Scalar) -> None:
        #: The class name as written (the mapping key).
        self.key = key
        self.args = args
        #: None for a top-level ``*_modifiers`` group (SparseML's default stage).
        self.stage = stage
        self.group = group
        self.group_key = group_key

    @property
    def type(self) -> str:
        return self.key.text

    def arg(self, name: str) -> tuple[Scalar, Node] | None:
        if isinstance(self.args, Map):
            for key, value in self.args.entries:
                if key.value == name:
                    return key, value
        return None


class V2Recipe:
    """The modifiers each library reads, and which library's schemas the recipe matched."""

    __slots__ = ("root", "modifiers", "variables", "dialect", "matched")

    def __init__(self, root: Map) -> None:
        self.root = root
        #: In file order: every modifier of a ``*_stage`` → ``*_modifiers`` mapping, and of a
        #: top-level ``*_modifiers`` mapping (which only SparseML reads).
        self.modifiers: list[V2Modifier] = []
        #: Top-level keys that are neither stages nor groups: SparseML's recipe variables.
        self.variables: dict[str, tuple[Scalar, Node]] = {}
        #: The dialect the diagnostics speak for (``llmcompressor`` or ``sparseml``).
        self.dialect = "llmcompressor"
        #: The dialects whose schemas accept every modifier.
        self.matched: tuple[str, ...] = ()

    def staged(self) -> list[V2Modifier]:
        """The modifiers llm-compressor reads (it ignores top-level groups)."""
        return [m for m in self.modifiers if m.stage is not None]
