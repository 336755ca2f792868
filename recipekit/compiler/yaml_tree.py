"""YAML text → a small node tree with exact spans, built from parser events.

We compose the tree ourselves instead of calling a YAML loader because a
loader would (a) construct objects from tags, (b) resolve scalars as YAML 1.2,
(c) forget where each alias was written, and (d) recurse once per nesting
level.  Composing from ruamel's event stream is iterative, never constructs
anything, keeps alias sites, and lets us bound depth and alias expansion
before any later stage walks the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from recipekit import limits
from recipekit.compiler import yaml11
from recipekit.diagnostics import Diagnostic, Note
from recipekit.source import Source, Span

if TYPE_CHECKING:
    from collections.abc import Iterator

YAML_TAG = "tag:yaml.org,2002:"
#: Put in place of a tag we refused (a Python object tag), so later stages stay quiet about it.
REJECTED_TAG = "tag:recipekit:rejected"
_STANDARD_SCALAR_TAGS = {"str", "int", "float", "bool", "null"}


# Nodes are compared by identity (a node is a place in the file) and are plain
# slotted classes: see recipekit/record.py for why nothing on the lint path is a dataclass.
class Node:
    __slots__ = ("span", "tag", "tag_span", "alias_of", "expression")

    def __init__(
        self, span: Span, tag: str | None, tag_span: Span | None, *, alias_of: Span | None = None, expression: str | None = None
    ) -> None:
        self.span = span
        #: The tag as written, in full form (``!GMPruningModifier``, ``tag:yaml.org,2002:str``).
        self.tag = tag
        self.tag_span = tag_span
        #: Where the anchor of an aliased node was defined (None unless this node came from an alias).
        self.alias_of = alias_of
        #: The `eval(...)` text this node was computed from (None for literal YAML).
        self.expression = expression

    def __repr__(self) -> str:
        return f"{type(self).__name__}(span={self.span!r}, tag={self.tag!r})"


class Scalar(Node):
    __slots__ = ("value", "text", "style", "kind")

    def __init__(
        self,
        span: Span,
        tag: str | None,
        tag_span: Span | None,
        value: yaml11.Scalar,
        text: str,
        style: str | None,
        kind: str = "str",
        *,
        alias_of: Span | None = None,
        expression: str | None = None,
    ) -> None:
        super().__init__(span, tag, tag_span, alias_of=alias_of, expression=expression)
        self.value = value
        #: The scalar's text after YAML unescaping/folding.
        self.text = text
        #: None for plain, or one of ``'`` ``"`` ``|`` ``>``.
        self.style = style
        #: How the value was resolved: null, bool, int, float, str, timestamp, merge.
        self.kind = kind

    def __repr__(self) -> str:
        return f"Scalar(span={self.span!r}, value={self.value!r})"


class Seq(Node):
    __slots__ = ("items",)

    def __init__(
        self,
        span: Span,
        tag: str | None,
        tag_span: Span | None,
        items: list[Node] | None = None,
        *,
        alias_of: Span | None = None,
        expression: str | None = None,
    ) -> None:
        super().__init__(span, tag, tag_span, alias_of=alias_of, expression=expression)
        self.items = items if items is not None else []


class Map(Node):
    __slots__ = ("entries",)

    def __init__(
        self,
        span: Span,
        tag: str | None,
        tag_span: Span | None,
        entries: list[tuple[Scalar, Node]] | None = None,
        *,
        alias_of: Span | None = None,
        expression: str | None = None,
    ) -> None:
        super().__init__(span, tag, tag_span, alias_of=alias_of, expression=expression)
        self.entries = entries if entries is not None else []

    def get(self, key: str) -> Node | None:
        for key_node, value in self.entries:
            if key_node.value == key:
                return value
        return None

    def key_node(self, key: str) -> Scalar | None:
        for key_node, _ in self.entries:
            if key_node.value == key:
                return key_node
        return None


class _Abort(Exception):
    """Stops composing after a diagnostic that makes the rest meaningless."""


class _Frame:
    """A collection being composed."""

    __slots__ = ("node", "anchor", "size", "count", "pending_key", "seen_keys")

    def __init__(self, node: Seq | Map, anchor: str | None) -> None:
        self.node = node
        self.anchor = anchor
        self.size = 1
        #: Nodes attached directly: items of a list, keys and values of a mapping.
        self.count = 0
        self.pending_key: Scalar | None = None
        self.seen_keys: dict[object, Scalar] = {}


class _Composer:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.base = source.yaml_start
        self.text = source.text
        self.diagnostics: list[Diagnostic] = []
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.expanded = 0
        self.aliases = 0
        self.root: Node | None = None
        self.documents = 0

    # -- spans ------------------------------------------------------------
    def span(self, start: int, end: int) -> Span:
        return Span(self.base + start, self.base + end)

    def value_start(self, event: Any) -> int:
        """Offset of a node's content, past its ``&anchor`` and ``!tag`` properties."""
        i: int = self.base + event.start_mark.index
        end: int = self.base + event.end_mark.index
        text = self.text
        while i < end and text[i] in "&!":
            while i < end and not text[i].isspace():
                i += 1
            while i < end and text[i].isspace():
                i += 1
        return i

    def tag_span(self, event: Any) -> Span | None:
        i = self.base + event.start_mark.index
        text = self.text
        for _ in range(2):
            if i < len(text) and text[i] in "&!":
                start = i
                while i < len(text) and not text[i].isspace():
                    i += 1
                if text[start] == "!":
                    return Span(start, i)
                while i < len(text) and text[i] in " \t":
                    i += 1
        return None

    # -- events -----------------------------------------------------------
    def run(self, events: Iterator[Any]) -> None:
        handlers = {
            ev.ScalarEvent: self.on_scalar,
            ev.SequenceStartEvent: self.on_start,
            ev.MappingStartEvent: self.on_start,
            ev.SequenceEndEvent: self.on_end,
            ev.MappingEndEvent: self.on_end,
            ev.AliasEvent: self.on_alias,
            ev.DocumentStartEvent: self.on_document,
        }
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)

    def on_document(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            span = self.span(event.start_mark.index, event.start_mark.index + 3)
            message = "a recipe is a single YAML document; remove this `---` document separator and what follows it, or merge the documents"
            self.diagnostics.append(self.source.diag("P107", span, message))
            raise _Abort

    def check_tag(self, tag: str | None, event: Any) -> str | None:
        if tag is None or tag == "!":
            return None
        if tag.startswith(YAML_TAG + "python/") or tag.startswith("!!python/") or tag.startswith("!python/"):
            span = self.tag_span(event) or self.span(event.start_mark.index, event.end_mark.index)
            message = f"tag {self.text[span.start : span.end]} asks for a Python object; recipes never construct objects, remove the tag"
            self.diagnostics.append(self.source.diag("P112", span, message))
            return REJECTED_TAG
        return tag

    def register(self, anchor: str | None, node: Node, size: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (node, size)

    def add_size(self, size: int, span: Span) -> None:
        self.expanded += size
        if self.expanded > limits.MAX_EXPANDED_NODES:
            message = (
                f"aliases expand this recipe to more than {limits.MAX_EXPANDED_NODES} YAML nodes "
                "(a 'billion laughs' document); recipes never need this, remove the nested aliases"
            )
            self.diagnostics.append(self.source.diag("P110", span, message))
            raise _Abort

    def attach(self, node: Node, size: int) -> None:
        self.add_size(size, node.span)
        if not self.stack:
            self.root = node
            return
        frame = self.stack[-1]
        frame.size += size
        container = frame.node
        frame.count += 1
        if frame.count > limits.MAX_COLLECTION_ITEMS * (1 if isinstance(container, Seq) else 2):
            kind = "list" if isinstance(container, Seq) else "mapping"
            message = f"this {kind} holds more than {limits.MAX_COLLECTION_ITEMS} items; a recipe needs a few hundred at most"
            self.diagnostics.append(self.source.diag("P117", Span(container.span.start, container.span.start + 1), message))
            raise _Abort
        if isinstance(container, Seq):
            container.items.append(node)
            return
        if frame.pending_key is None:
            if not isinstance(node, Scalar):
                message = "mapping keys must be plain scalars in a recipe"
                self.diagnostics.append(self.source.diag("P115", node.span, message))
                frame.pending_key = Scalar(node.span, None, None, value=f"<complex key {id(node)}>", text="", style=None)
                return
            frame.pending_key = node
            return
        key, frame.pending_key = frame.pending_key, None
        if key.kind == "merge" and key.tag is None:
            self.merge(container, node)
            return
        hashable = key.value if not isinstance(key.value, float) or key.value == key.value else key.text
        previous = frame.seen_keys.get(hashable)
        if previous is not None:
            note = self.source.note("first defined here", previous.span)
            message = f"duplicate key {key.text!r}; SparseML silently keeps the last value. Remove one of them"
            self.diagnostics.append(self.source.diag("P111", key.span, message, (note,)))
            container.entries = [(k, v) for k, v in container.entries if k is not previous]
        frame.seen_keys[hashable] = key
        container.entries.append((key, node))

    def merge(self, target: Map, value: Node) -> None:
        sources = value.items if isinstance(value, Seq) else [value]
        own = {k.value for k, _ in target.entries}
        for source in sources:
            if not isinstance(source, Map):
                message = "a `<<` merge key needs a mapping (or a list of mappings) to merge"
                self.diagnostics.append(self.source.diag("P116", source.span, message))
                continue
            for key, item in source.entries:
                if key.value not in own:
                    target.entries.append((key, item))
                    own.add(key.value)

    def on_scalar(self, event: Any) -> None:
        start = self.value_start(event)
        end = self.base + event.end_mark.index
        span = Span(start, max(start, end))
        tag = self.check_tag(event.tag, event)
        text = event.value
        style = event.style
        if tag == REJECTED_TAG:
            kind, value = "str", text
        elif tag is not None and tag.startswith(YAML_TAG) and tag[len(YAML_TAG) :] in _STANDARD_SCALAR_TAGS:
            kind, value = self.explicit_scalar(tag[len(YAML_TAG) :], text, event, span)
            tag = None
        elif style is None and tag is None:
            kind, value = yaml11.resolve_plain(text)
        else:
            kind, value = "str", text
            if tag is not None and not tag.startswith("!") and tag != REJECTED_TAG:
                self.unknown_tag(tag, event)
                tag = None
        node = Scalar(span, tag, self.tag_span(event) if tag else None, value=value, text=text, style=style, kind=kind)
        self.register(event.anchor, node, 1)
        self.attach(node, 1)

    def explicit_scalar(self, name: str, text: str, event: Any, span: Span) -> tuple[str, yaml11.Scalar]:
        if name == "str":
            return "str", text
        kind, value = yaml11.resolve_plain(text)
        if kind == name or (name == "float" and kind == "int"):
            return name, float(value) if name == "float" and isinstance(value, int) else value
        message = f"{text!r} is not a valid !!{name} value"
        self.diagnostics.append(self.source.diag("P113", span, message))
        return "str", text

    def unknown_tag(self, tag: str, event: Any) -> None:
        span = self.tag_span(event) or self.span(event.start_mark.index, event.end_mark.index)
        message = f"unsupported YAML tag {self.text[span.start : span.end]}; remove it"
        self.diagnostics.append(self.source.diag("P113", span, message))

    def on_start(self, event: Any) -> None:
        if len(self.stack) >= limits.MAX_DEPTH:
            span = self.span(event.start_mark.index, event.start_mark.index + 1)
            message = f"collections nest more than {limits.MAX_DEPTH} levels deep; a recipe needs about 5"
            self.diagnostics.append(self.source.diag("P109", span, message))
            raise _Abort
        tag = self.check_tag(event.tag, event)
        if tag is not None and tag.startswith(YAML_TAG) and tag != REJECTED_TAG:
            if tag[len(YAML_TAG) :] not in ("seq", "map"):
                self.unknown_tag(tag, event)
            tag = None
        start = self.value_start(event) if tag is None else self.base + event.start_mark.index
        tag_span = self.tag_span(event) if tag else None
        span = Span(start, start)
        node: Seq | Map = Seq(span, tag, tag_span) if isinstance(event, ev.SequenceStartEvent) else Map(span, tag, tag_span)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Frame(node, event.anchor))

    def on_end(self, event: Any) -> None:
        frame = self.stack.pop()
        node = frame.node
        children: list[Node] = node.items if isinstance(node, Seq) else [v for _, v in node.entries]
        flow_end = self.base + event.end_mark.index
        if children:
            end = max(children[-1].span.end, node.span.start)
            if event.flow_style if hasattr(event, "flow_style") else False:
                end = flow_end
        else:
            end = node.tag_span.end if node.tag_span else max(flow_end, node.span.start)
        # Flow collections end at their closing bracket, block ones at their last child.
        if self.text[node.span.start : node.span.start + 1] in "[{":
            end = flow_end
        node.span = Span(node.span.start, end)
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
            self.register(frame.anchor, node, frame.size)
        # The node's own size was counted as it grew; attach only links it.
        self.expanded -= frame.size
        self.attach(node, frame.size)

    def on_alias(self, event: Any) -> None:
        span = self.span(event.start_mark.index, event.end_mark.index)
        name = event.anchor
        self.aliases += 1
        if self.aliases > limits.MAX_ALIASES:
            message = f"more than {limits.MAX_ALIASES} aliases in one recipe"
            self.diagnostics.append(self.source.diag("P110", span, message))
            raise _Abort
        if name in self.open_anchors:
            message = f"alias *{name} refers to the collection that contains it; recursive data cannot be a recipe value"
            self.diagnostics.append(self.source.diag("P110", span, message))
            raise _Abort
        found = self.anchors.get(name)
        if found is None:
            message = f"undefined alias *{name}; define the anchor with `&{name}` on a value before this line"
            self.diagnostics.append(self.source.diag("P108", span, message))
            # "failed" keeps later stages from reporting the missing value a second time.
            self.attach(Scalar(span, None, None, value=None, text="", style=None, kind="failed"), 1)
            return
        target, size = found
        self.attach(_alias_copy(target, span), size)


def _alias_copy(target: Node, span: Span) -> Node:
    """The alias site gets its own span; children are shared, never copied."""
    if isinstance(target, Scalar):
        copy: Node = Scalar(span, target.tag, target.tag_span, value=target.value, text=target.text, style=target.style, kind=target.kind)
    elif isinstance(target, Seq):
        copy = Seq(span, target.tag, target.tag_span, items=target.items)
    else:
        assert isinstance(target, Map)
        copy = Map(span, target.tag, target.tag_span, entries=target.entries)
    copy.alias_of = target.alias_of or target.span
    return copy


def compose(source: Source) -> tuple[Node | None, list[Diagnostic]]:
    """Compose the YAML of ``source`` into a node tree, or report why not."""
    composer = _Composer(source)
    # The safe pure-Python parser: events with marks, without the round-trip comment gathering (~25 % faster).
    yaml = YAML(typ="safe", pure=True)
    try:
        composer.run(yaml.parse(source.yaml_text))
    except _Abort:
        return None, composer.diagnostics
    except MarkedYAMLError as error:
        composer.diagnostics.append(_syntax_diagnostic(source, error))
        return None, composer.diagnostics
    except YAMLError as error:
        position = getattr(error, "position", 0) or 0
        span = Span(source.yaml_start + position, source.yaml_start + position + 1)
        reason = getattr(error, "reason", None) or str(error).splitlines()[0]
        composer.diagnostics.append(source.diag("P101", span, f"invalid YAML: {reason}"))
        return None, composer.diagnostics
    root = composer.root
    if root is None or (isinstance(root, Scalar) and root.value is None):
        message = "the recipe is empty; add a `modifiers:` list"
        span = Span(source.yaml_start, source.yaml_start)
        return None, [*composer.diagnostics, source.diag("P106", span, message)]
    return root, composer.diagnostics


def _syntax_diagnostic(source: Source, error: Any) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    offset = source.yaml_start + (mark.index if mark is not None else 0)
    problem = error.problem or "invalid YAML"
    if "found undefined alias" in problem:
        name = problem.split("'")[1] if "'" in problem else ""
        end = offset + 1 + len(name)
        message = f"undefined alias *{name}; define the anchor with `&{name}` on a value before this line"
        return source.diag("P108", Span(offset, end), message)
    notes: tuple[Note, ...] = ()
    if error.context and error.context_mark is not None and error.problem_mark is not None:
        context_offset = source.yaml_start + error.context_mark.index
        notes = (source.note(error.context, Span(context_offset, context_offset + 1)),)
    hint = ""
    if "\\t" in problem or "\t" in problem or "tab" in problem:
        hint = "; indent with spaces, YAML does not allow tabs there"
    end = min(offset + 1, len(source.text))
    return source.diag("P101", Span(offset, max(end, offset)), f"invalid YAML: {problem}{hint}", notes)
