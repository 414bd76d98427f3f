"""QuickSight as code: the requests in `quicksight/`, filled from the settings and checked offline.

The files are the QuickSight API's own request shapes (CreateDataSource, CreateDataSet,
CreateDashboard) with `${name}` placeholders in their strings. `load` fills them and adds
`AwsAccountId`; `validate_all` checks each request against botocore's QuickSight service model and
the data sets and dashboard against the marts' columns in `sql/marts/models.yml`, within the subset
the local renderer and SPICE understand (docs/seller-insights.md). Every problem found is reported,
each naming its file, data set and column.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.model import OperationNotFoundError, ServiceModel
from botocore.validate import ParamValidator

from gitgoods.settings import REPO_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pipelines.marts.models import Model

QUICKSIGHT_DIR = REPO_ROOT / "quicksight"
RLS_FILE = "seller_rls"
PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")

# Athena type (models.yml) -> the QuickSight input column type a data set declares for it
QUICKSIGHT_TYPES = {
    "varchar": "STRING",
    "string": "STRING",
    "char": "STRING",
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "int": "INTEGER",
    "smallint": "INTEGER",
    "tinyint": "INTEGER",
    "double": "DECIMAL",
    "real": "DECIMAL",
    "float": "DECIMAL",
    "decimal": "DECIMAL",
    "date": "DATETIME",
    "timestamp": "DATETIME",
    "boolean": "BOOLEAN",
}
TRANSFORMS = ("ProjectOperation", "CastColumnTypeOperation", "RenameColumnOperation", "TagColumnOperation")
RLS_IDENTITY_COLUMNS = ("UserName", "GroupName")


class DefinitionError(ValueError):
    """A QuickSight definition is malformed, outside the supported subset, or disagrees with the marts."""


def render(obj: Any, values: Mapping[str, str], source: str = "<definition>") -> Any:
    """`obj` with every `${name}` in its strings (keys included) replaced by `values[name]`."""

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise DefinitionError(f"{source}: unknown placeholder ${{{name}}} (known: {', '.join(sorted(values))})")
            return values[name]

        return PLACEHOLDER.sub(one, text)

    if isinstance(obj, str):
        return fill(obj)
    if isinstance(obj, dict):
        return {fill(k) if isinstance(k, str) else k: render(v, values, source) for k, v in obj.items()}
    if isinstance(obj, list):
        return [render(v, values, source) for v in obj]
    return obj


def placeholders(settings: Settings) -> dict[str, str]:
    return {
        "account_id": settings.quicksight_account_id,
        "region": settings.region,
        "prefix": settings.quicksight_prefix,
        "namespace": settings.quicksight_namespace,
        "athena_workgroup": settings.athena_workgroup,
        "glue_database": settings.glue_database,
    }


@dataclass
class Definitions:
    """The filled requests: data source, the marts' data sets (by mart name), the RLS data set, dashboard."""

    data_source: dict[str, Any]
    datasets: dict[str, dict[str, Any]]
    rls: dict[str, Any]
    dashboard: dict[str, Any]
    root: Path = field(default=QUICKSIGHT_DIR, compare=False)

    def file(self, kind: str, name: str = "") -> str:
        """The file a request came from, as error messages name it."""
        rel = {"data_source": "data_source.json", "dashboard": "dashboard.json", "rls": f"datasets/{RLS_FILE}.json"}
        return _display(self.root / rel.get(kind, f"datasets/{name}.json"))

    def dataset_file(self, dataset_id: str) -> str:
        for mart, request in self.datasets.items():
            if request.get("DataSetId") == dataset_id:
                return self.file("dataset", mart)
        return self.file("rls")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _read(path: Path, values: Mapping[str, str], account_id: str) -> dict[str, Any]:
    source = _display(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DefinitionError(f"{source}: {exc}") from exc
    if not isinstance(data, dict):
        raise DefinitionError(f"{source}: a request must be a JSON object")
    request = render(data, values, source)
    return {"AwsAccountId": account_id, **request}


def load(settings: Settings | None = None, root: Path | str = QUICKSIGHT_DIR) -> Definitions:
    settings = settings or get_settings()
    root = Path(root)
    values = placeholders(settings)
    account = settings.quicksight_account_id
    datasets: dict[str, dict[str, Any]] = {}
    rls: dict[str, Any] | None = None
    for path in sorted((root / "datasets").glob("*.json")):
        if path.stem == RLS_FILE:
            rls = _read(path, values, account)
        else:
            datasets[path.stem] = _read(path, values, account)
    if rls is None:
        raise DefinitionError(f"{_display(root / 'datasets')}: no {RLS_FILE}.json (the RLS rules data set)")
    return Definitions(
        data_source=_read(root / "data_source.json", values, account),
        datasets=datasets,
        rls=rls,
        dashboard=_read(root / "dashboard.json", values, account),
        root=root,
    )


@functools.cache
def _service_model() -> ServiceModel:
    """botocore's QuickSight model (loaded once, on first use: it is large)."""
    return botocore.session.get_session().get_service_model("quicksight")


def validate_request(operation_name: str, params: Mapping[str, Any], source: str = "") -> None:
    """Check `params` against botocore's input shape of the QuickSight operation; every problem listed."""
    try:
        shape = _service_model().operation_model(operation_name).input_shape
    except OperationNotFoundError as exc:
        raise DefinitionError(f"QuickSight has no operation {operation_name!r}") from exc
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        where = f"{source}: " if source else ""
        raise DefinitionError(f"{where}{operation_name} request is invalid:\n{report.generate_report()}")


@dataclass(frozen=True)
class Lineage:
    """One output column of a data set and where it comes from."""

    input_name: str
    input_type: str  # the QuickSight type the physical table declares
    type: str  # after casts
    name: str  # after renames
    description: str | None = None
    format: str | None = None  # of the last cast


def dataset_columns(dataset_request: Mapping[str, Any], source: str = "") -> dict[str, Lineage]:
    """Output columns of a CreateDataSet request, following its transforms in order: each with its
    input column and type, its type after casts, its name after renames and its description; only the
    projected ones when the transforms project. A transform outside the subset is refused."""
    where = f"{source + ': ' if source else ''}data set {dataset_request.get('DataSetId')}"
    try:
        return _columns(dataset_request, where)
    except (KeyError, TypeError, AttributeError) as exc:
        raise DefinitionError(f"{where}: malformed table or transform ({exc!r})") from exc


def _columns(dataset_request: Mapping[str, Any], where: str) -> dict[str, Lineage]:
    physical = dataset_request.get("PhysicalTableMap") or {}
    if len(physical) != 1:
        raise DefinitionError(f"{where}: needs exactly one physical table, has {len(physical)}")
    ((table_id, table),) = physical.items()
    relational = table.get("RelationalTable")
    if relational is None:
        raise DefinitionError(
            f"{where}: physical table {table_id} is {sorted(table)}, outside the subset (only RelationalTable)"
        )
    columns = {c["Name"]: Lineage(c["Name"], c["Type"], c["Type"], c["Name"]) for c in relational["InputColumns"]}
    logical = dataset_request.get("LogicalTableMap") or {}
    if not logical:
        return columns
    if len(logical) != 1:
        raise DefinitionError(f"{where}: needs at most one logical table, has {len(logical)}")
    ((logical_id, table),) = logical.items()
    if (table.get("Source") or {}).get("PhysicalTableId") != table_id:
        raise DefinitionError(
            f"{where}: logical table {logical_id} must read physical table {table_id} "
            "(joins and other data sets are outside the subset)"
        )
    for step, operation in enumerate(table.get("DataTransforms") or []):
        if len(operation) != 1:
            raise DefinitionError(f"{where}: transform {step} must hold exactly one operation")
        ((kind, body),) = operation.items()
        at = f"{where}: transform {step} ({kind})"
        if kind not in TRANSFORMS:
            raise DefinitionError(f"{at} is outside the subset ({', '.join(TRANSFORMS)})")
        if kind == "ProjectOperation":
            missing = [c for c in body["ProjectedColumns"] if c not in columns]
            if missing:
                raise DefinitionError(f"{at}: no column {', '.join(map(repr, missing))}")
            columns = {c: columns[c] for c in body["ProjectedColumns"]}
            continue
        name = body["ColumnName"]
        if name not in columns:
            raise DefinitionError(f"{at}: no column {name!r} (columns: {', '.join(columns)})")
        if kind == "CastColumnTypeOperation":
            columns[name] = dataclasses.replace(columns[name], type=body["NewColumnType"], format=body.get("Format"))
        elif kind == "RenameColumnOperation":
            new = body["NewColumnName"]
            if new in columns and new != name:
                raise DefinitionError(f"{at}: renaming {name!r} to {new!r}, which already exists")
            columns = {
                (new if k == name else k): (dataclasses.replace(v, name=new) if k == name else v)
                for k, v in columns.items()
            }
        else:  # TagColumnOperation
            for tag in body["Tags"]:
                text = (tag.get("ColumnDescription") or {}).get("Text")
                if text is not None:
                    columns[name] = dataclasses.replace(columns[name], description=text)
    return columns


def quicksight_type(athena_type: str) -> str | None:
    """The QuickSight input type for an Athena type (`decimal(12,2)` -> DECIMAL); None when unknown."""
    return QUICKSIGHT_TYPES.get(athena_type.split("(", 1)[0].strip().lower())


def _dataset_id(arn: str) -> str:
    return arn.rsplit(":dataset/", 1)[-1] if ":dataset/" in arn else arn


def check_against_models(defs: Definitions, models: Mapping[str, Model]) -> None:
    """The data sets' tables and columns against the marts' models.yml, the dashboard against the data sets."""
    from pipelines.publish.dashboard_checks import check_dashboard

    marts = {m.lake_name: m for m in models.values() if m.zone == "marts"}
    errors: list[str] = []
    outputs: dict[str, dict[str, Lineage]] = {}  # data set id -> its output columns
    rls_id = defs.rls.get("DataSetId", "")
    rls_source = defs.file("rls")
    try:
        rls_columns = dataset_columns(defs.rls, rls_source)
        outputs[rls_id] = rls_columns
    except DefinitionError as exc:
        errors.append(str(exc))
        rls_columns = {}
    if defs.rls.get("UseAs") != "RLS_RULES":
        errors.append(f"{rls_source}: data set {rls_id}: UseAs must be RLS_RULES")
    rule_columns = [c for c in rls_columns if c not in RLS_IDENTITY_COLUMNS]
    if rls_columns and not any(c in rls_columns for c in RLS_IDENTITY_COLUMNS):
        errors.append(f"{rls_source}: data set {rls_id}: needs a UserName or GroupName column")

    for mart, request in defs.datasets.items():
        source = defs.file("dataset", mart)
        where = f"{source}: data set {request.get('DataSetId')}"
        for table in (request.get("PhysicalTableMap") or {}).values():
            relational = table.get("RelationalTable") or {}
            model = marts.get(relational.get("Name", ""))
            if model is None:
                errors.append(f"{where}: reads table {relational.get('Name')!r}, not marts_<mart> of a known mart")
                continue
            if model.name != mart:
                errors.append(f"{where}: reads {model.lake_name}, but the file is for mart {mart}")
            known = {c.name: c for c in model.columns}
            for column in relational.get("InputColumns") or []:
                name, declared = column.get("Name"), column.get("Type")
                if name not in known:
                    errors.append(f"{where}: input column {name!r} is not a column of {model.lake_name} in models.yml")
                    continue
                expected = quicksight_type(known[name].type)
                if declared != expected:
                    errors.append(
                        f"{where}: input column {name!r} is declared {declared}, but models.yml types "
                        f"it {known[name].type} (QuickSight {expected})"
                    )
        try:
            columns = dataset_columns(request, source)
        except DefinitionError as exc:
            errors.append(str(exc))
            continue
        outputs[request.get("DataSetId", mart)] = columns
        errors += [
            f"{where}: column {c!r} has no description (TagColumnOperation ColumnDescription)"
            for c, lineage in columns.items()
            if not lineage.description
        ]
        for folder, content in (request.get("FieldFolders") or {}).items():
            errors += [
                f"{where}: field folder {folder!r} lists column {c!r}, not an output column"
                for c in content.get("columns") or []
                if c not in columns
            ]
        rls = request.get("RowLevelPermissionDataSet")
        if rls is None:
            errors.append(f"{where}: no RowLevelPermissionDataSet")
        elif _dataset_id(rls.get("Arn", "")) != rls_id:
            errors.append(f"{where}: RowLevelPermissionDataSet {rls.get('Arn')} is not the RLS data set {rls_id}")
        else:
            errors += [
                f"{where}: column {c!r}, which the RLS rules match, is not an output column"
                for c in rule_columns
                if c not in columns
            ]
    errors += check_dashboard(defs, outputs)
    if errors:
        raise DefinitionError("QuickSight definitions disagree with the marts:\n" + "\n".join(errors))


def validate_all(defs: Definitions, models: Mapping[str, Model]) -> None:
    """Every request against botocore's QuickSight model, then the column checks; every problem listed."""
    requests = [("CreateDataSource", defs.data_source, defs.file("data_source"))]
    requests += [("CreateDataSet", r, defs.file("dataset", m)) for m, r in defs.datasets.items()]
    requests += [
        ("CreateDataSet", defs.rls, defs.file("rls")),
        ("CreateDashboard", defs.dashboard, defs.file("dashboard")),
    ]
    errors = []
    for operation, request, source in requests:
        try:
            validate_request(operation, request, source)
        except DefinitionError as exc:
            errors.append(str(exc))
    try:
        check_against_models(defs, models)
    except DefinitionError as exc:
        errors.append(str(exc))
    if errors:
        raise DefinitionError("\n".join(errors))
