"""The state of parsing a definition: its declared data sets and calculated fields, and the visual
being parsed (its errors name it; its columns are checked against the declarations)."""

from __future__ import annotations

from portal.render import expressions as ex
from portal.render.errors import RenderError, visual_error
from portal.render.model import Column


class DefinitionContext:
    def __init__(self, datasets: dict[str, str], calculated: dict[str, dict[str, ex.Node]]) -> None:
        self.datasets = datasets  # identifier -> data set ARN
        self.calculated = calculated  # identifier -> name -> node


class VisualContext:
    def __init__(self, visual_id: str, type_name: str, dashboard: DefinitionContext) -> None:
        self.visual_id = visual_id
        self.type_name = type_name
        self.d = dashboard
        self.datasets: set[str] = set()

    def error(self, what: str) -> RenderError:
        return visual_error(self.visual_id, self.type_name, what)

    def column(self, raw: dict | None) -> Column:
        if not isinstance(raw, dict) or not raw.get("ColumnName"):
            raise self.error("a field without a Column")
        if "DataSetIdentifier" not in raw:
            raise self.error(f"column {raw.get('ColumnName')!r} without a DataSetIdentifier (topics are not supported)")
        identifier = raw["DataSetIdentifier"]
        if identifier not in self.d.datasets:
            raise self.error(f"data set identifier {identifier!r} is not declared")
        self.datasets.add(identifier)
        return Column(identifier, raw["ColumnName"])

    def calc(self, column: Column) -> ex.Node | None:
        return self.d.calculated.get(column.dataset, {}).get(column.name)

    def resolved(self, node: ex.Node, column: Column, text: str) -> ex.Node:
        try:
            return ex.resolve(node, self.d.calculated.get(column.dataset, {}), text)
        except RenderError as err:
            raise self.error(str(err)) from None


def one_kind(raw: dict, ctx: VisualContext, what: str) -> tuple[str, dict]:
    """The single `{Kind: body}` of a union-shaped object (a field, a sort, a format)."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ctx.error(f"a {what} must hold exactly one kind, got {sorted(raw) if isinstance(raw, dict) else raw!r}")
    ((kind, body),) = raw.items()
    return kind, body
