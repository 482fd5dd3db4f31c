"""Configuration: `FWJR_*` environment variables, optionally a YAML file, documented defaults.

Precedence (highest first): environment variables, the file named by FWJR_CONFIG,
the defaults below. docs/configuration.md lists every setting.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".fwjr"


def _default_cache() -> Path:
    """The user's cache dir (XDG), not FWJR_HOME: every home shares the jars, and the tests and
    benchmarks start each run on a fresh home."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fwjr"


class Settings(BaseSettings):
    """Every knob of the monitor; each field reads FWJR_<NAME> from the environment."""

    model_config = SettingsConfigDict(env_prefix="FWJR_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="All local state: broker data, store, logs, pids.")
    cache_dir: Path | None = Field(default=None, description="Downloaded jars (Kafka, Spark, Hadoop); default $XDG_CACHE_HOME/fwjr, else ~/.cache/fwjr.")
    clickhouse_url: str | None = Field(default=None, description="ClickHouse server URL; unset = embedded chDB under home.")
    kafka_bootstrap: str | None = Field(default=None, description="Kafka bootstrap servers; unset = the local broker.")
    kafka_port: int = Field(default=19092, description="Port of the local broker.")
    kafka_controller_port: int = Field(default=19093, description="KRaft controller port of the local broker.")
    raw_partitions: int = Field(default=8, description="Partitions of fwjr.raw (upper bound on worker parallelism).")
    dashboard_host: str = Field(default="127.0.0.1", description="Address the board listens on.")
    dashboard_port: int = Field(default=8050, description="Port of the board and its JSON API.")
    metrics_port: int = Field(default=9108, description="Prometheus metrics port of the worker (0 = off).")
    metrics_host: str = Field(default="127.0.0.1", description="Address the worker's metrics port listens on (0.0.0.0 in a container).")
    flush_interval: float = Field(default=0.5, description="Seconds between worker flushes to the store.")
    batch_size: int = Field(default=10000, description="Messages taken from the stream per batch.")
    dedupe_days: int = Field(default=14, description="How long an FWJR identity is remembered for dedupe.")
    minute_days: int = Field(default=2, description="Age until minute rows roll up to hours.")
    hour_days: int = Field(default=30, description="Age until hour rows roll up to days.")
    day_days: int = Field(default=365, description="Age until day rows roll up to months.")
    jobs_days: int = Field(default=14, description="Retention of per-job rows (drill-down).")
    log_url_template: str = Field(
        default="",
        description="Link to a job's log archive: {lfn} is replaced by its LFN (e.g. https://eoscmsweb.cern.ch/eos/cms{lfn}); empty shows the LFN only.",
    )
    spark_master: str = Field(default="local[2]", description="Spark master for replays.")
    config: Path | None = Field(default=None, description="YAML file with any of these settings.")

    # ---- alerts, service status and receivers (docs/alerting.md) ----
    alert_window_minutes: int = Field(default=5, description="Event-time minutes each alert evaluation looks at.")
    alert_baseline_minutes: int = Field(default=120, description="Minutes of calm history each scope's baseline rate uses.")
    alert_pending_minutes: int = Field(default=3, description="Consecutive anomalous minutes before an alert fires.")
    alert_resolve_minutes: int = Field(default=5, description="Consecutive calm minutes before a firing alert resolves.")
    alert_max_p_value: float = Field(default=1e-7, description="Chance of the failures at the baseline rate below which it is a spike.")
    alert_z_resolve: float = Field(default=2.0, description="Score below which a firing scope counts as calm.")
    alert_min_excess_failures: float = Field(default=5.0, description="Failures above expectation needed for a spike.")
    alert_min_ratio: float = Field(default=2.0, description="Spike rate must be at least this many times the baseline.")
    alert_min_excess_rate: float = Field(default=0.05, description="Spike rate must exceed the baseline by this much.")
    alert_prior_jobs: float = Field(default=20.0, description="Pseudo-jobs at the global rate a scope's baseline starts from.")
    alert_min_baseline_jobs: int = Field(default=100, description="Jobs a scope's baseline needs before it can alert on its own.")
    alert_min_own_jobs: int = Field(default=20, description="Jobs of its own a site or workflow without an established baseline needs to alert on one borrowed from the global rate.")
    alert_min_window_jobs: int = Field(default=20, description="Jobs a site's or workflow's window must hold; a smaller one is judged on a longer window.")
    alert_long_window_minutes: int = Field(default=30, description="The longest window a small site or workflow is judged on.")
    alert_allowed_lateness: int = Field(default=120, description="Seconds behind the newest FWJR a minute waits for late reports.")
    alert_webhook_urls: list[str] = Field(default_factory=list, description="Webhook receivers (Alertmanager-style JSON body).")
    alert_smtp_host: str | None = Field(default=None, description="SMTP server for e-mail alerts; unset = no e-mail.")
    alert_smtp_port: int = Field(default=25, description="SMTP port.")
    alert_email_from: str = Field(default="fwjr-monitor@localhost", description="Sender of alert e-mails.")
    alert_email_to: list[str] = Field(default_factory=list, description="Recipients of alert e-mails.")
    alert_retry_attempts: int = Field(default=6, description="Deliveries tried per alert and receiver before giving up.")
    alert_retry_backoff: float = Field(default=1.0, description="First retry delay in seconds; doubles each attempt.")
    status_endpoints: list[dict] = Field(
        default_factory=list,
        description="JSON status pages and downtime feeds to poll: {url, service?, items?, state?, fields: {service, state, message, ts, start, end}, states: {theirs: ours}}.",
    )
    status_poll_interval: float = Field(default=60.0, description="Seconds between polls of the status endpoints.")
    alertmanager_urls: list[str] = Field(
        default_factory=list, description="Alertmanager base URLs (every instance of a cluster) that alerts are posted to (v2 API)."
    )
    alertmanager_resend_interval: float = Field(
        default=60.0, gt=0, description="Seconds between re-sends of firing alerts to Alertmanager; each is valid 4 intervals."
    )
    alertmanager_username: str | None = Field(default=None, description="Basic-auth user the alerter presents to Alertmanager (its --web.config.file); unset = none.")
    alertmanager_password: str | None = Field(default=None, description="Basic-auth password for Alertmanager (with FWJR_ALERTMANAGER_USERNAME).")
    alert_source_idle_seconds: float = Field(
        default=120.0, gt=0, description="Wall-clock seconds without a job from a fwjr.raw partition before the alerter's watermark stops waiting for it."
    )
    alerter_checkpoint_interval: float = Field(default=2.0, gt=0, description="Seconds between the alerter's checkpoints when it decides nothing.")
    alerter_metrics_port: int = Field(default=9109, description="Prometheus metrics port of the alerter (0 = off); on FWJR_METRICS_HOST.")
    # ---- end of alerts block ----

    # ---- triage: remedy rules, site status, the decision's thresholds (docs/triage.md) ----
    triage_rules_file: Path | None = Field(default=None, description="YAML remedy rules file; unset = the shipped rules (fwjr/data/triage_rules.yaml).")
    site_degraded_below: float = Field(default=0.9, ge=0, le=1, description="Job success rate below which a site is degraded (DIRAC's 90%).")
    site_ban_below: float = Field(default=0.5, ge=0, le=1, description="Job success rate below which banning the site is suggested (DIRAC's 50%).")
    site_min_jobs: int = Field(default=10, ge=1, description="Jobs a site needs in the window before it gets a status.")
    site_low_cpu_efficiency: float = Field(default=0.5, ge=0, le=1, description="CPU efficiency below which a site is flagged (the status stays its success rate's).")
    triage_min_failures: int = Field(default=10, ge=1, description="Failures a workflow needs before it gets a verdict other than watch.")
    triage_min_pattern_rate: float = Field(default=0.05, gt=0, le=1, description="Share of a workflow's jobs its main error must fail before it is debug or resources.")
    triage_min_ratio: float = Field(default=4.0, gt=1, description="How many times its usual rate (all workflows) the main error must fail at.")
    triage_site_share: float = Field(default=0.7, gt=0, le=1, description="Share of a workflow's failures at one site that makes it a site problem.")
    triage_similarity: float = Field(default=0.8, gt=0, le=1, description="Cosine similarity of error patterns above which workflows are grouped.")
    triage_refresh_seconds: float = Field(
        default=60.0, gt=0, description="Age in seconds after which the board's snapshot of a window's decisions is recomputed in the background (served meanwhile)."
    )
    # ---- end of triage block ----

    # ---- operational data, accounts and the executor's API (docs/accounts.md) ----
    ops_database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the operational database (accounts, actions); unset = SQLite under home."
    )
    secret_key: str | None = Field(default=None, description="Signs sessions, CSRF tokens and mailed links; unset = generated once under home.")
    session_cookie_secure: bool | None = Field(
        default=None, description="Send the session cookie over HTTPS only; unset = yes unless the board listens on loopback."
    )
    session_cookie_samesite: Literal["Lax", "Strict"] = Field(default="Lax", description="SameSite attribute of the session cookie.")
    login_rate_limit: str = Field(default="10 per minute", description="Login, registration and reset attempts allowed per client address.")
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where the login limiter counts (Flask-Limiter storage URI); memory:// counts per process, so a board with several workers needs redis:// or memcached://.",
    )
    registration_domains: list[str] = Field(default_factory=list, description="E-mail domains that may register (empty = registration closed).")
    mail_smtp_host: str | None = Field(default=None, description="SMTP server for confirmation and reset mail; unset = no mail.")
    mail_smtp_port: int = Field(default=25, description="SMTP port for account mail.")
    mail_from: str = Field(default="fwjr-monitor@localhost", description="Sender of account mail.")
    mail_link_hours: float = Field(default=24.0, description="Hours a mailed confirmation or reset link stays valid.")
    board_url: str | None = Field(default=None, description="The board's public address, for mailed links; unset = http://host:port.")
    trusted_proxies: list[str] = Field(default_factory=list, description="Addresses (CIDRs) of reverse proxies whose identity headers are believed.")
    proxy_identity_header: str | None = Field(default=None, description="Header carrying the signed-in user's name from a trusted proxy.")
    proxy_groups_header: str | None = Field(default=None, description="Header carrying the user's groups (comma separated) from a trusted proxy.")
    proxy_group_roles: dict[str, str] = Field(default_factory=dict, description="Proxy group -> role (viewer, operator, admin); the highest wins.")
    replay_token: str | None = Field(default=None, description="API token `fwjr replay` sends to the store's owner; unset = the file under home.")
    suggest_min_actions: int = Field(default=50, ge=2, description="Past decisions with an error pattern (acted or pending) needed before actions are learnt or suggested.")
    suggest_min_examples: int = Field(default=5, ge=1, description="Decisions an action needs to count towards FWJR_SUGGEST_MIN_KINDS.")
    suggest_min_kinds: int = Field(default=2, ge=2, description="Actions with at least FWJR_SUGGEST_MIN_EXAMPLES decisions each needed before actions are learnt or suggested.")
    suggest_min_confidence: float = Field(default=0.6, gt=0, le=1, description="Probability the learnt model must give its top action before it is suggested.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFile(settings_cls))

    @property
    def store_path(self) -> Path:
        return self.home / "store"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def ops_url(self) -> str:
        """The operational database's SQLAlchemy URL (SQLite under home unless set)."""
        return self.ops_database_url or f"sqlite:///{self.home / 'ops.sqlite'}"

    @property
    def replay_token_file(self) -> Path:
        """Where `fwjr up` leaves the replay token for `fwjr replay` (mode 0600)."""
        return self.home / "replay.token"

    @property
    def public_url(self) -> str:
        """Base address of the board as users reach it, without a trailing slash."""
        return (self.board_url or f"http://{self.dashboard_host}:{self.dashboard_port}").rstrip("/")

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def jar_cache(self) -> Path:
        return self.cache_dir or _default_cache()


class _YamlFile(PydanticBaseSettingsSource):
    """Settings from the YAML file named by FWJR_CONFIG (keys are field names)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values().get(field_name), field_name, False

    def _values(self) -> dict[str, Any]:
        path = os.environ.get("FWJR_CONFIG")
        if not path:
            return {}
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"FWJR_CONFIG={path}: expected a mapping of settings, got {type(loaded).__name__}")
        return loaded

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._values().items() if k in self.settings_cls.model_fields}


@cache
def settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
