"""Calculated fields of the dashboard definition: a small, safe parser and a pyarrow evaluator.

The subset (docs/seller-insights.md): numbers, `{Column Name}` references, `+ - * /`, unary minus,
parentheses, and the aggregations `sum avg min max count distinct_count` of a row-level
expression. Nothing is ever `eval`ed: the text is tokenized and parsed by recursive descent into
the node classes below; anything else is a `RenderError` naming what was not understood.

An expression is *row-level* when it has no aggregation (evaluated on the table before grouping)
or *aggregate* when every column reference sits inside an aggregation (evaluated per group after
grouping). Mixing the two (`{a} / sum({b})`) or nesting aggregations is refused, as QuickSight
does. Division by zero (or by null) gives null: QuickSight shows nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from portal.render.errors import RenderError

AGGREGATIONS = {"sum", "avg", "min", "max", "count", "distinct_count"}
# The same aggregations as pyarrow's hash aggregate functions.
ARROW_AGGREGATE = {
    "sum": "sum",
    "avg": "mean",
    "min": "min",
    "max": "max",
    "count": "count",
    "distinct_count": "count_distinct",
}


@dataclass(frozen=True)
class Num:
    value: float | int


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Agg:
    func: str
    operand: Node


Node = Num | Ref | Neg | BinOp | Agg

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|\{(?P<ref>[^{}]+)\}|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>[-+*/(),]))"
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise RenderError(f"calculated field {text!r}: cannot read {text[pos:].strip()[:20]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise RenderError(f"calculated field {self.text!r}: unexpected end")
        self.pos += 1
        return token

    def _expect(self, value: str) -> None:
        token = self._take()
        if token != ("op", value):
            raise RenderError(f"calculated field {self.text!r}: expected {value!r}, got {token[1]!r}")

    def parse(self) -> Node:
        node = self._sum()
        if self._peek() is not None:
            raise RenderError(f"calculated field {self.text!r}: unexpected {self._peek()[1]!r}")  # type: ignore[index]
        return node

    def _sum(self) -> Node:
        node = self._product()
        while self._peek() in (("op", "+"), ("op", "-")):
            op = self._take()[1]
            node = BinOp(op, node, self._product())
        return node

    def _product(self) -> Node:
        node = self._unary()
        while self._peek() in (("op", "*"), ("op", "/")):
            op = self._take()[1]
            node = BinOp(op, node, self._unary())
        return node

    def _unary(self) -> Node:
        if self._peek() == ("op", "-"):
            self._take()
            return Neg(self._unary())
        if self._peek() == ("op", "+"):
            self._take()
            return self._unary()
        return self._atom()

    def _atom(self) -> Node:
        kind, value = self._take()
        if kind == "num":
            return Num(float(value) if "." in value else int(value))
        if kind == "ref":
            return Ref(value.strip())
        if kind == "op" and value == "(":
            node = self._sum()
            self._expect(")")
            return node
        if kind == "name":
            func = value.lower()
            if func not in AGGREGATIONS:
                raise RenderError(f"calculated field {self.text!r}: function {value!r} is not supported")
            self._expect("(")
            operand = self._sum()
            self._expect(")")
            return Agg(func, operand)
        raise RenderError(f"calculated field {self.text!r}: unexpected {value!r}")


def parse(text: str) -> Node:
    """Parse an expression of the subset; `RenderError` for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise RenderError("calculated field: empty expression")
    return _Parser(text).parse()


def references(node: Node) -> set[str]:
    match node:
        case Ref(name):
            return {name}
        case Num():
            return set()
        case Neg(operand) | Agg(_, operand):
            return references(operand)
        case BinOp(_, left, right):
            return references(left) | references(right)
    raise TypeError(node)


def is_aggregate(node: Node) -> bool:
    match node:
        case Agg():
            return True
        case Num() | Ref():
            return False
        case Neg(operand):
            return is_aggregate(operand)
        case BinOp(_, left, right):
            return is_aggregate(left) or is_aggregate(right)
    raise TypeError(node)


def resolve(node: Node, calculated: Mapping[str, Node], text: str = "", _seen: tuple[str, ...] = ()) -> Node:
    """Inline references to other calculated fields, then check the aggregation levels."""

    def inline(n: Node, seen: tuple[str, ...]) -> Node:
        match n:
            case Ref(name) if name in calculated:
                if name in seen:
                    raise RenderError(f"calculated field {name!r} refers to itself")
                return inline(calculated[name], (*seen, name))
            case Num() | Ref():
                return n
            case Neg(operand):
                return Neg(inline(operand, seen))
            case Agg(func, operand):
                return Agg(func, inline(operand, seen))
            case BinOp(op, left, right):
                return BinOp(op, inline(left, seen), inline(right, seen))
        raise TypeError(n)

    resolved = inline(node, _seen)
    _check_levels(resolved, text)
    return resolved


def _check_levels(node: Node, text: str, inside: bool = False) -> None:
    """Aggregations hold row-level operands; outside them an aggregate expression holds no column."""
    aggregate = is_aggregate(node)

    def walk(n: Node, inside_agg: bool) -> None:
        match n:
            case Agg(func, operand):
                if inside_agg:
                    raise RenderError(f"calculated field {text!r}: {func}() inside another aggregation")
                walk(operand, True)
            case Ref(name):
                if aggregate and not inside_agg:
                    raise RenderError(
                        f"calculated field {text!r}: {{{name}}} is used outside an aggregation "
                        "in an aggregate expression"
                    )
            case Num():
                pass
            case Neg(operand):
                walk(operand, inside_agg)
            case BinOp(_, left, right):
                walk(left, inside_agg)
                walk(right, inside_agg)

    walk(node, inside)


# --- evaluation -------------------------------------------------------------------------------

Value = pa.Array | pa.ChunkedArray | pa.Scalar


def _arith(op: str, left: Value, right: Value) -> Value:
    if op == "+":
        return pc.add(left, right)
    if op == "-":
        return pc.subtract(left, right)
    if op == "*":
        return pc.multiply(left, right)
    # Division: always in floating point; a zero (or null) divisor gives null.
    left_f = pc.cast(left, pa.float64())
    right_f = pc.cast(right, pa.float64())
    zero = pc.equal(right_f, 0.0)
    safe = pc.if_else(zero, pa.scalar(None, pa.float64()), right_f)
    return pc.divide(left_f, safe)


def evaluate(node: Node, column: Callable[[str], Value], aggregated: Callable[[Agg], Value] | None = None) -> Value:
    """Evaluate over columns: `column(name)` gives a row-level column; `aggregated(agg)` the
    per-group result of an aggregation (aggregate expressions only)."""
    match node:
        case Num(value):
            return pa.scalar(value)
        case Ref(name):
            return column(name)
        case Neg(operand):
            return pc.negate(evaluate(operand, column, aggregated))
        case BinOp(op, left, right):
            return _arith(op, evaluate(left, column, aggregated), evaluate(right, column, aggregated))
        case Agg():
            if aggregated is None:
                raise RenderError("an aggregation cannot be evaluated row by row")
            return aggregated(node)
    raise TypeError(node)


def aggregations(node: Node) -> list[Agg]:
    """The aggregations of an expression, outermost first, without duplicates."""
    found: list[Agg] = []

    def walk(n: Node) -> None:
        match n:
            case Agg():
                if n not in found:
                    found.append(n)
            case Neg(operand):
                walk(operand)
            case BinOp(_, left, right):
                walk(left)
                walk(right)

    walk(node)
    return found
