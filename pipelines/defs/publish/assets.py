"""Dagster group `publish`: the marts reach QuickSight, and through it (or the portal) sellers.

- `seller_rls`: the RLS rules from the Cognito pool (lake table `publish/seller_rls`), and the
  QuickSight users and groups in step with the pool;
- `quicksight_data_source`, `quicksight_seller_rls`, one `quicksight_<mart>` per published mart,
  `seller_insights_dashboard`: each created or updated only where the definitions differ from
  what is published (a second run with nothing changed makes no write call), permissions granted
  to the analysts group; the dashboard's new version is published;
- a data set's SPICE ingestion starts only when the marts it reads changed since its last
  ingestion and passed their blocking checks; the asset waits for it (bounded) and reports its
  row counts and errors.
"""

from typing import Any

import dagster as dg

from gitgoods.settings import get_settings
from pipelines.publish import rls
from pipelines.publish.api import PublishError, QuickSight
from pipelines.publish.definitions import QUICKSIGHT_DIR
from pipelines.publish.plan import Change, Wanted, apply, plan_one
from pipelines.publish.refresh import refresh_dataset
from pipelines.publish.sources import check_state, table_version
from pipelines.publish.users import quicksight_user_name, sync_users
from pipelines.publish.wanted import publication
from pipelines.resources import LakeResource, QuickSightResource

GROUP = "publish"
OWNERS = ["team:data"]
MARTS = sorted(p.stem for p in (QUICKSIGHT_DIR / "datasets").glob("*.json") if p.stem != rls.TABLE)


def _publish(qs: QuickSight, wanted: Wanted) -> tuple[Change, dict[str, Any]]:
    change = plan_one(qs, wanted)
    done = apply(qs, change) if change.changes_anything else {"action": "unchanged"}
    meta: dict[str, Any] = {
        "resource": f"{wanted.kind} {wanted.id}",
        "action": change.action,
        "write_calls": sum(qs.writes.values()),
    }
    if change.fields:
        meta["changed_fields"] = dg.MetadataValue.md("\n".join(f"- `{d}`" for d in change.fields[:50]))
    if change.grant or change.revoke:
        meta["permissions"] = dg.MetadataValue.json(done.get("permissions", {}))
    if "version" in done:
        meta["published_version"] = done["version"]
    return change, meta


def _refresh(qs: QuickSight, wanted: Wanted, version: str, blockers: list[str]) -> dict[str, Any]:
    settings = get_settings()
    before = sum(qs.writes.values())
    try:
        refresh = refresh_dataset(qs, wanted, region=settings.region, version=version, blockers=blockers,
                                  timeout_s=settings.spice_ingestion_timeout_s)
    except PublishError as exc:
        raise dg.Failure(description=str(exc)) from exc
    meta = {"resource": f"data set {wanted.id}", "source_version": version, **refresh.metadata()}
    if refresh.change.fields:
        meta["changed_fields"] = dg.MetadataValue.md("\n".join(f"- `{d}`" for d in refresh.change.fields[:50]))
    meta["write_calls"] = sum(qs.writes.values()) - before
    return meta


@dg.asset(
    name="seller_rls",
    group_name=GROUP,
    kinds={"cognito", "parquet"},
    owners=OWNERS,
    description="Row-level-security rules from the Cognito pool (one per enabled seller, one for analysts); "
    "QuickSight users and groups kept in step with the pool.",
)
def seller_rls(lake: LakeResource, quicksight: QuickSightResource) -> dg.MaterializeResult:
    from gitgoods.identity import Identities

    settings = get_settings()
    identities = Identities(settings)
    sellers = identities.sellers()
    analysts = identities.analysts()
    rules = rls.rules(
        ((quicksight_user_name(settings, s.username), s.seller_id, s.enabled) for s in sellers),
        settings.analysts_group,
    )
    fs = lake.open()
    written = rls.write_rules(fs, rules)
    catalog = lake.catalog()
    if catalog is not None:
        catalog.ensure_database()
        catalog.ensure_table(rls.GLUE_TABLE, rls.SCHEMA, rls.location(fs), partition_keys=(),
                             description="Row-level-security rules of the seller data sets")
    qs = quicksight.open()
    users = sync_users(qs, settings, ((s.username, s.enabled) for s in sellers), analysts)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rules),
            "sellers_enabled": sum(1 for s in sellers if s.enabled),
            "sellers_disabled": sum(1 for s in sellers if not s.enabled),
            "analysts": len(analysts),
            "rules_changed": written,
            "rules_version": rls.fingerprint(rules)[:16],
            "location": dg.MetadataValue.path(rls.location(fs)),
            "quicksight_users": dg.MetadataValue.json(users),
        }
    )


@dg.asset(
    name="quicksight_data_source",
    group_name=GROUP,
    kinds={"quicksight"},
    owners=OWNERS,
    description="The Athena data source every data set reads (work group from the settings).",
)
def quicksight_data_source(quicksight: QuickSightResource) -> dg.MaterializeResult:
    _, meta = _publish(quicksight.open(), publication(get_settings()).data_source)
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="quicksight_seller_rls",
    group_name=GROUP,
    kinds={"quicksight"},
    owners=OWNERS,
    deps=[seller_rls, quicksight_data_source],
    description="The RLS rules data set (UseAs RLS_RULES), refreshed in SPICE when the rules change.",
)
def quicksight_seller_rls(lake: LakeResource, quicksight: QuickSightResource) -> dg.MaterializeResult:
    current = rls.read_rules(lake.open())
    blockers = [] if current is not None else ["the rules table has not been written"]
    meta = _refresh(quicksight.open(), publication(get_settings()).rls, rls.fingerprint(current or [])[:16], blockers)
    return dg.MaterializeResult(metadata=meta)


def build_dataset_asset(mart: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"quicksight_{mart}",
        group_name=GROUP,
        kinds={"quicksight"},
        owners=OWNERS,
        deps=[dg.AssetKey(mart), quicksight_data_source, quicksight_seller_rls],
        description=f"QuickSight data set of the mart `{mart}` (SPICE, RLS by seller), definition "
        f"`quicksight/datasets/{mart}.json`.",
    )
    def dataset_asset(context: dg.AssetExecutionContext, lake: LakeResource,
                      quicksight: QuickSightResource) -> dg.MaterializeResult:
        state = check_state(context.instance, mart)
        blockers = [] if state.passed else [f"{mart}: {state.reason}"]
        version = table_version(lake.open(), "marts", mart)
        if not version:
            blockers.append(f"{mart} has no partition yet")
        if blockers:
            context.log.warning(f"{mart}: SPICE keeps its last checked data: " + "; ".join(blockers))
        meta = _refresh(quicksight.open(), publication(get_settings()).datasets[mart], version, blockers)
        return dg.MaterializeResult(metadata=meta)

    return dataset_asset


DATASET_ASSETS = [build_dataset_asset(m) for m in MARTS]


@dg.asset(
    name="seller_insights_dashboard",
    group_name=GROUP,
    kinds={"quicksight"},
    owners=OWNERS,
    deps=[*DATASET_ASSETS, quicksight_seller_rls],
    description="The sellers' dashboard (`quicksight/dashboard.json`, a Definition): a new version is made "
    "and published when the definition changes; shared with the analysts and sellers groups.",
)
def seller_insights_dashboard(quicksight: QuickSightResource) -> dg.MaterializeResult:
    _, meta = _publish(quicksight.open(), publication(get_settings()).dashboard)
    return dg.MaterializeResult(metadata=meta)


ASSETS = [seller_rls, quicksight_data_source, quicksight_seller_rls, *DATASET_ASSETS, seller_insights_dashboard]
publish_job = dg.define_asset_job("publish_job", selection=dg.AssetSelection.groups(GROUP))
JOBS = [publish_job]
