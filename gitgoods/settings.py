"""The one settings module: every component reads its configuration from here.

`GITGOODS_ENV` picks the mode. `local` (the default) runs fully offline against DynamoDB Local
and a moto server on loopback; `aws` talks to the real services with the same code, only the
endpoints and a few names differ.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_home() -> Path:
    return REPO_ROOT / ".gitgoods"


class UnsafeSettings(RuntimeError):
    """The `aws` mode with a setting that is only safe on one machine."""


class HomeFolder:
    """A folder below the settings' `home`, read as an attribute: `state_dir = HomeFolder("state")`."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, settings: Settings | None, owner: type | None = None) -> Any:
        return self if settings is None else settings.home.joinpath(*self.parts)


# Secrets that come from the environment, or, on a local stack, from the file generated once into
# the secrets folder (`gitgoods.local.secrets`): the setting, and the name of its file.
LOCAL_SECRET_FILES = {
    "internal_token": "internal-token",
    "sim_clock_key": "sim-clock-key",
    "portal_secret_key": "portal-session-key",
    "web_secret_key": "web-session-key",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GITGOODS_", extra="ignore", ignored_types=(HomeFolder,))

    env: Literal["local", "aws"] = "local"
    home: Path = Field(default_factory=default_home)
    region: str = "us-east-1"
    table_prefix: str = "gitgoods-"

    # Local emulator endpoints (ignored in `aws` mode unless the AWS_ENDPOINT_URL* variables
    # are set explicitly, which boto3 honours by itself).
    dynamodb_port: int = 8000
    moto_port: int = 4566
    dynamodb_heap_mb: int = 512

    dagster_port: int = 3000
    catalog_port: int = 5001
    orders_port: int = 5002
    web_port: int = 8080
    catalog_url: str = "http://127.0.0.1:5001"
    # Where the shop finds the order service.
    orders_url: str = "http://127.0.0.1:5002"
    # Worker processes per service (gitgoods/local/workers.py). The pages are CPU-bound and hold
    # no shared state in memory: one worker per core. The order service keeps one: a second one
    # doubled the transactions DynamoDB Local ran at once, and under load they timed out and
    # conflicted more than the extra process gained (docs/benchmarks.md). The catalog keeps one,
    # since the stock notices that keep its read cache fresh reach a single process.
    web_workers: int = 2
    orders_workers: int = 1
    catalog_workers: int = 1
    # waitress threads per worker (docs/serving.md)
    service_threads: int = 16

    # KMS: the key that wraps PII data keys and the HMAC keys for look-up and pseudonyms.
    pii_key_alias: str = "alias/gitgoods-pii"
    lookup_hmac_key_alias: str = "alias/gitgoods-lookup-hmac"
    pseudonym_hmac_key_alias: str = "alias/gitgoods-pseudonym-hmac"

    # Shared secret for service-to-service calls (order lifecycle, cache notices). Locally it is
    # generated once into the state folder; in AWS it comes from the environment.
    internal_token: str | None = None
    # Key that signs the simulator's backdated clock; only ever present locally.
    sim_clock_key: str | None = None
    # Signs the catalog's pagination cursors (HMAC-SHA256). When unset, a key derived from the
    # internal token (which every catalog instance shares) is used.
    cursor_key: str | None = None

    rate_limit_orders: str = "200 per second"
    rate_limit_reads: str = "1000 per second"
    ratelimit_storage_uri: str = "memory://"

    # The lake: a folder on disk by default, `s3://bucket/prefix` on the emulator or on AWS.
    lake_uri: str | None = None
    glue_database: str = "gitgoods_lake"
    # Athena (GITGOODS_ENV=aws): the work group queries run in, and where results go
    # (None: the work group's own result location).
    athena_workgroup: str = "primary"
    athena_output: str | None = None
    # First day of the daily (and monthly) partitions, YYYY-MM-DD: a fixed setting, never the clock.
    # `make up` sets it from the shopper simulation's window; elsewhere it must be given.
    pipeline_start: date | None = None
    # The ingest assets load each partition in a lean worker process (`pipelines.ingest.worker`,
    # through Dagster Pipes) so the Dagster process does not carry the ingest's memory; true loads
    # it inside the Dagster step's own process instead.
    ingest_in_process: bool = False
    # The embedded engine (DuckDB): threads (None: one per core) and the memory it may hold before
    # it spills to its temp folder. Every Dagster step that queries has its own engine, so the
    # limit is per step; None leaves DuckDB's own default (80 % of RAM).
    duckdb_threads: int | None = None
    duckdb_memory_limit: str | None = "1GB"

    # QuickSight (publish step and seller portal). Locally the moto server plays QuickSight, its
    # missing asset APIs supplied by `gitgoods.local.quicksight`; account 123456789012 is moto's.
    quicksight_account_id: str = "123456789012"
    quicksight_namespace: str = "default"
    # Prefix of every QuickSight resource id this project owns (data source, data sets, dashboard).
    quicksight_prefix: str = "gitgoods-"
    # How sellers and analysts become QuickSight users. With a role ARN (the portal's embedding role,
    # AWS) they are registered as IAM identities of that role with their user name as session
    # name; without, as QuickSight identities with an address under this domain (QuickSight wants an
    # e-mail; the project keeps no plaintext contact address, so it is a non-routable one).
    quicksight_embed_role_arn: str | None = None
    quicksight_user_email_domain: str = "users.gitgoods.invalid"
    # Seconds the publish step waits for one SPICE ingestion before it reports a timeout.
    spice_ingestion_timeout_s: float = 600.0

    # Seller identities: a Cognito user pool with a `sellers` and an `analysts` group; each seller
    # user carries `custom:seller_id`. Locally the pool lives in the moto server and is found by
    # name; on AWS give its id and app client id (and the hosted UI domain for the portal's sign-in).
    cognito_pool_name: str = "gitgoods-sellers"
    cognito_pool_id: str | None = None
    cognito_client_id: str | None = None
    cognito_domain: str | None = None
    # Token verification: the issuer the tokens carry and where the signing keys are served are two
    # settings (moto serves the keys on its own address but signs with the real AWS issuer URL).
    cognito_issuer: str | None = None
    cognito_jwks_url: str | None = None
    sellers_group: str = "sellers"
    analysts_group: str = "analysts"

    # The seller portal.
    portal_port: int = 8081
    portal_url: str = "http://127.0.0.1:8081"
    # Signs the portal's session cookie; generated into the local secrets folder when unset.
    portal_secret_key: str | None = None
    # Signs the shop's session cookie (its carts); generated into the local secrets folder when unset.
    web_secret_key: str | None = None

    # Order events over a message broker (storefront.events). With an AMQP URL (`AMQP_URL`, as
    # the broker's own tools name it) the relay publishes to RabbitMQ; without one the relay and
    # the notification consumer run in one process over an in-memory transport.
    amqp_url: str | None = Field(default=None, validation_alias=AliasChoices("AMQP_URL", "GITGOODS_AMQP_URL"))
    events_exchange: str = "gitgoods.orders"
    notifications_queue: str = "gitgoods.notifications"
    # Deliveries of one message the notification queue allows before it dead-letters it.
    notifications_delivery_limit: int = 5
    relay_batch: int = 100
    # Where the notification consumer writes its notices (None: `<state>/mailbox`).
    mailbox_dir: Path | None = None

    # The storefront's request paths: AWS calls time out after `request_read_timeout_s` (3 attempts
    # at most), and all the AWS work of one request must fit in `request_budget_s`, past which the
    # client gets a JSON 503 with Retry-After (storefront/common/deadline.py).
    request_read_timeout_s: float = 1.0
    request_budget_s: float = 2.0

    cache_item_ttl_s: float = 300.0
    cache_query_ttl_s: float = 30.0

    # How long the shop's pages keep what the catalog answered (storefront/web/catalog_cache.py);
    # 0 asks the catalog on every page.
    web_cache_ttl_s: float = 5.0

    # The shop's funnel events (storefront/web/funnel.py): queued in the web process, at most
    # this many waiting (more are dropped and counted), sent to the order service in batches of
    # at most `web_funnel_batch_max` events, at least every `web_funnel_flush_ms`.
    web_funnel_queue_max: int = 10_000
    web_funnel_batch_max: int = 50
    web_funnel_flush_ms: int = 500

    # Orders not paid this many seconds after they were placed (by the service's own clock, not
    # a simulated one) are cancelled and their stock returned by the sweep
    # (`python -m storefront.orders.sweep`), which runs every `unpaid_sweep_interval_s` and
    # cancels at most `unpaid_sweep_batch` orders a run.
    unpaid_order_ttl_s: float = 1800.0
    unpaid_sweep_interval_s: float = 60.0
    unpaid_sweep_batch: int = 100

    # The folders of the home.
    state_dir = HomeFolder("state")
    log_dir = HomeFolder("logs")
    run_dir = HomeFolder("run")
    secrets_dir = HomeFolder("secrets")
    dagster_home = HomeFolder("dagster")
    # The local QuickSight's store: published definitions and SPICE snapshots.
    quicksight_state_dir = HomeFolder("state", "quicksight")

    @property
    def lake(self) -> str:
        return self.lake_uri or f"file://{self.home.resolve() / 'lake'}"

    @property
    def dynamodb_endpoint(self) -> str | None:
        explicit = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        if explicit:
            return explicit
        return f"http://127.0.0.1:{self.dynamodb_port}" if self.env == "local" else None

    @property
    def aws_endpoint(self) -> str | None:
        explicit = os.environ.get("AWS_ENDPOINT_URL")
        if explicit:
            return explicit
        return f"http://127.0.0.1:{self.moto_port}" if self.env == "local" else None

    def table(self, name: str) -> str:
        return f"{self.table_prefix}{name}"

    def local_secret(self, name: str) -> str | None:
        """Read a locally generated secret (see `gitgoods.local.secrets`)."""
        path = self.secrets_dir / name
        return path.read_text().strip() if path.exists() else None

    def resolved_secret(self, name: str) -> str | None:
        """A secret setting of `LOCAL_SECRET_FILES`: as set, else (locally) its generated file."""
        if getattr(self, name):
            return getattr(self, name)
        return self.local_secret(LOCAL_SECRET_FILES[name]) if self.env == "local" else None

    def resolved_internal_token(self) -> str | None:
        return self.resolved_secret("internal_token")

    def resolved_cursor_key(self) -> bytes | None:
        if self.cursor_key:
            return self.cursor_key.encode()
        token = self.resolved_internal_token()
        if not token:
            return None
        # Derived, not the token itself: a cursor's MAC must never help anyone guess the token.
        return hmac.new(token.encode(), b"gitgoods:catalog-cursor:v1", hashlib.sha256).digest()

    @property
    def rate_limit_store(self) -> str:
        """Where the rate limits are counted: the explicit store, else Redis when `REDIS_URL` is set
        (shared by every worker and instance), else this process's memory."""
        if self.ratelimit_storage_uri == "memory://" and os.environ.get("REDIS_URL"):
            return os.environ["REDIS_URL"]
        return self.ratelimit_storage_uri

    def unsafe_for_aws(self) -> list[str]:
        """What of this configuration is a local default that must not run in the `aws` mode (empty
        when none, or when the mode is `local`)."""
        if self.env != "aws":
            return []
        problems = []
        if self.rate_limit_store.startswith("memory://"):
            problems.append(
                "the rate limits are kept in memory, per process (set GITGOODS_RATELIMIT_STORAGE_URI=redis://...)"
            )
        if not self.catalog_url.startswith("https://"):
            problems.append(f"the internal catalog URL is not HTTPS ({self.catalog_url}; set GITGOODS_CATALOG_URL)")
        token = self.internal_token or ""
        if len(token) < 32:
            problems.append("the internal token is missing or shorter than 32 characters (GITGOODS_INTERNAL_TOKEN)")
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
            value = os.environ.get(name, "")
            if any(host in value for host in ("127.0.0.1", "localhost", "[::1]")):
                problems.append(f"{name} points at a local emulator ({value})")
        return problems

    def require_safe_for_aws(self) -> None:
        """Refuse to start in the `aws` mode with local defaults, saying each, before anything is touched."""
        problems = self.unsafe_for_aws()
        if problems:
            raise UnsafeSettings("GITGOODS_ENV=aws with local defaults: " + "; ".join(problems))

    def resolved_portal_secret_key(self) -> str | None:
        return self.resolved_secret("portal_secret_key")

    def resolved_web_secret_key(self) -> str | None:
        return self.resolved_secret("web_secret_key")

    def resolved_sim_clock_key(self) -> str | None:
        # The simulator's clock can only ever be set locally.
        return self.resolved_secret("sim_clock_key") if self.env == "local" else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()
