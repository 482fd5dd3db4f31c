"""The local Apache Kafka broker: a real single-node KRaft broker that the project starts itself.

There is no Docker here, so `fwjr up`, the tests and the benchmarks run the Apache Kafka jars
(resolved once by Maven from tools/kafka/pom.xml) with `java` directly. Everything the broker
owns (config, data, log, pid file, chosen ports) lives in one state directory, so any process
can find, check or stop a broker that another process started.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from fwjr import topics
from fwjr.config import settings as current_settings
from fwjr.devstack.processes import alive, cmdline, terminate_with_parent
from fwjr.resources import pom

KAFKA_POM = pom("kafka")
JAR_MARKER = ".complete"
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
LOOPBACK = "127.0.0.1"
NODE_ID = 1
LOG_ROTATE_BYTES = 50 * 1024 * 1024
DAY_MS = 24 * 3600 * 1000

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The local broker could not be prepared, started, reached or stopped."""


class BrokerAlreadyRunning(BrokerError):
    """A broker process already owns this state directory."""


@dataclass(frozen=True)
class TopicSpec:
    """How one topic is laid out; replication is always 1 on the single local node."""

    partitions: int
    retention_ms: int
    max_message_bytes: int | None = None
    compacted: bool = False  # keep the latest message per key (a state topic), not a time range

    def configs(self) -> dict[str, str]:
        cfg = {"retention.ms": str(self.retention_ms), "cleanup.policy": "compact" if self.compacted else "delete"}
        if self.max_message_bytes is not None:
            cfg["max.message.bytes"] = str(self.max_message_bytes)
        return cfg


# The topics of docs/architecture.md. fwjr.raw and fwjr.jobs carry the volume, so they get enough
# partitions to spread over several stream workers; the control topics stay ordered on one
# partition. The DLQ keeps the original bytes plus a reason, so it accepts slightly larger
# messages than the raw topic it receives them from. The alerter's checkpoints (one key, the
# latest wins) are compacted, on one partition, which is also the alerter's lease.
DEFAULT_TOPICS: dict[str, TopicSpec] = {
    topics.RAW: TopicSpec(partitions=8, retention_ms=7 * DAY_MS),
    topics.JOBS: TopicSpec(partitions=8, retention_ms=7 * DAY_MS),
    topics.DLQ: TopicSpec(partitions=2, retention_ms=30 * DAY_MS, max_message_bytes=2 * 1024 * 1024),
    topics.SERVICE_STATUS: TopicSpec(partitions=1, retention_ms=30 * DAY_MS),
    topics.ALERTS: TopicSpec(partitions=1, retention_ms=30 * DAY_MS),
    topics.ALERTER_STATE: TopicSpec(partitions=1, retention_ms=-1, max_message_bytes=16 * 1024 * 1024, compacted=True),
}


@dataclass(frozen=True)
class BrokerSettings:
    """What must stay the same across restarts of one state dir: the ports clients know and the cluster id."""

    broker_port: int
    controller_port: int
    cluster_id: str


def default_cache_dir() -> Path:
    """Where resolved jars live: the settings' jar cache (FWJR_CACHE_DIR, else the user's cache dir)."""
    return current_settings().jar_cache


def find_executable(name: str) -> str | None:
    """Find java/mvn on PATH, falling back to JAVA_HOME/bin for java as the JDK tools do."""
    found = shutil.which(name)
    if found is None and name == "java" and os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        found = str(candidate) if candidate.is_file() else None
    return found


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def kafka_jar_dir(cache_dir: Path) -> Path:
    """The jar folder for the current pom; a pom change gives a new folder, never a mixed one."""
    return cache_dir / f"kafka-jars-{_pom_digest(KAFKA_POM)[:12]}"


def ensure_kafka_jars(cache_dir: Path) -> Path:
    """Return a folder with every runtime jar of the broker, running Maven only when it is missing.

    Maven writes into a temporary sibling that is renamed into place once complete, so a
    process that sees the folder always sees all of it.
    """
    if not KAFKA_POM.is_file():
        raise BrokerError(f"Kafka pom not found at {KAFKA_POM}; the broker jars are resolved from it")
    jar_dir = kafka_jar_dir(cache_dir)
    if (jar_dir / JAR_MARKER).is_file():
        return jar_dir
    mvn = find_executable("mvn")
    if mvn is None:
        raise BrokerError(
            f"Maven (mvn) is not on PATH and the Kafka jars are not cached in {jar_dir}; "
            "install Maven 3.8+ or set FWJR_CACHE_DIR to a cache that has them"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".kafka-jars-", dir=cache_dir))
    cmd = [mvn, "-q", "-B", "-f", str(KAFKA_POM), "dependency:copy-dependencies", f"-DoutputDirectory={staging}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        raise BrokerError(
            f"`{' '.join(cmd)}` failed with exit code {result.returncode}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    (staging / JAR_MARKER).write_text(_pom_digest(KAFKA_POM))
    try:
        staging.rename(jar_dir)
    except OSError:
        # Another process finished first; its folder is just as complete.
        shutil.rmtree(staging, ignore_errors=True)
        if not (jar_dir / JAR_MARKER).is_file():
            raise
    return jar_dir


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in Kafka's URL-safe base64 form.

    One id in 64 would start with "-", which kafka-storage's argument parser reads as an
    option ("argument --cluster-id: expected one argument"); Kafka's own Uuid.randomUuid
    draws again in that case, and so do we.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


class KafkaBroker:
    """A single-node KRaft broker (broker and controller in one JVM) bound to loopback.

    The handle is cheap and stateless apart from the state directory: `KafkaBroker(dir)` in
    another process sees the same broker, which is how `fwjr status` and `fwjr down` work.
    Ports of 0 mean "reuse the ports this state dir used before, else pick free ones", so a
    restart keeps the bootstrap address that clients already hold. With detach=False the
    broker gets SIGTERM when the starting process dies, so a crashed test run or a foreground
    `fwjr up` never leaves a JVM behind.
    """

    def __init__(
        self,
        state_dir: Path,
        jar_dir: Path | None = None,
        broker_port: int = 0,
        controller_port: int = 0,
        heap_mb: int = 512,
        detach: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self._jar_dir = jar_dir
        self._requested_ports = (broker_port, controller_port)
        self.heap_mb = heap_mb
        self.detach = detach
        self._proc: subprocess.Popen[bytes] | None = None

    # -- files under the state dir -------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "broker.pid"

    @property
    def properties_file(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def _settings_file(self) -> Path:
        return self.state_dir / "broker.json"

    def _saved_settings(self) -> BrokerSettings | None:
        if not self._settings_file.is_file():
            return None
        try:
            return BrokerSettings(**json.loads(self._settings_file.read_text()))
        except (ValueError, TypeError) as exc:
            raise BrokerError(f"broker settings file {self._settings_file} is unreadable: {exc}") from exc

    def _resolve_settings(self) -> BrokerSettings:
        """Fix ports and cluster id once per state dir, honouring explicitly requested ports."""
        saved = self._saved_settings()
        broker_port, controller_port = self._requested_ports
        settings = BrokerSettings(
            broker_port=broker_port or (saved.broker_port if saved else free_port()),
            controller_port=controller_port or (saved.controller_port if saved else free_port()),
            cluster_id=saved.cluster_id if saved else new_cluster_id(),
        )
        if settings.broker_port == settings.controller_port:
            raise BrokerError(f"broker and controller port are both {settings.broker_port} for {self.state_dir}")
        if settings != saved:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._settings_file.write_text(json.dumps(asdict(settings), indent=2) + "\n")
        return settings

    # -- public API ----------------------------------------------------------------------------

    @property
    def broker_port(self) -> int:
        return self._resolve_settings().broker_port

    @property
    def controller_port(self) -> int:
        return self._resolve_settings().controller_port

    @property
    def bootstrap(self) -> str:
        """The address clients pass as bootstrap.servers."""
        return f"{LOOPBACK}:{self.broker_port}"

    @property
    def pid(self) -> int | None:
        """The pid of the broker owning this state dir, or None when none runs."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not alive(pid):
            return None
        # A recycled pid would belong to some other program: check it is our broker.
        cmd = cmdline(pid)
        if MAIN_CLASS not in cmd or str(self.properties_file) not in cmd:
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid is not None

    def start(self, timeout: float = 90.0) -> None:
        """Start the broker detached and return once it answers metadata requests.

        Raises BrokerAlreadyRunning when a broker already owns the state dir, and BrokerError
        (naming the log file) when it dies or stays silent past `timeout` seconds.
        """
        running = self.pid
        if running is not None:
            raise BrokerAlreadyRunning(
                f"a Kafka broker (pid {running}) already runs on state dir {self.state_dir}, "
                f"bootstrap {self.bootstrap}; stop it first or reuse it"
            )
        java = find_executable("java")
        if java is None:
            raise BrokerError("java is not on PATH (nor in JAVA_HOME/bin); Kafka 4 needs Java 17+")
        jar_dir = self._jar_dir or ensure_kafka_jars(default_cache_dir())
        settings = self._resolve_settings()
        self._check_ports_free(settings)
        self._write_config(settings)
        self._format_storage(java, jar_dir, settings.cluster_id)
        self._rotate_log()
        self._launch(java, jar_dir)
        self._wait_ready(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker: SIGTERM for a clean shutdown, SIGKILL if it is still there after `timeout`."""
        pid = self.pid
        if pid is None:
            self._reap()
            self.pid_file.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            log.warning("Kafka broker pid %s ignored SIGTERM for %ss; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            if not self._wait_exit(pid, 10.0):
                raise BrokerError(f"Kafka broker pid {pid} survived SIGKILL (state dir {self.state_dir})")
        self.pid_file.unlink(missing_ok=True)

    def restart(self, timeout: float = 90.0) -> None:
        """Stop and start again on the same data dir and ports, keeping topics and offsets."""
        self.stop()
        self.start(timeout)

    # -- steps of start/stop -------------------------------------------------------------------

    def _check_ports_free(self, settings: BrokerSettings) -> None:
        for name, port in (("broker", settings.broker_port), ("controller", settings.controller_port)):
            if _port_open(port):
                raise BrokerError(
                    f"{name} port {port} (recorded in {self._settings_file}) is already in use "
                    "by another process; stop it or pass another port"
                )

    def _write_config(self, settings: BrokerSettings) -> None:
        """Write server.properties and the log4j2 config; regenerated on every start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        bport, cport = settings.broker_port, settings.controller_port
        props = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@{LOOPBACK}:{cport}",
            "listeners": f"PLAINTEXT://{LOOPBACK}:{bport},CONTROLLER://{LOOPBACK}:{cport}",
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{bport}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # One node: every internal topic has a single replica.
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # No other member will ever join late, so do not hold the first rebalance back.
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "4",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "168",
            "log.segment.bytes": str(256 * 1024 * 1024),
            "log.retention.check.interval.ms": "300000",
            # Sized for a 2-core machine.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
        }
        self.properties_file.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.state_dir / "log4j2.properties").write_text(_LOG4J2_CONFIG)

    def _format_storage(self, java: str, jar_dir: Path, cluster_id: str) -> None:
        """Format the KRaft metadata dir once; a restart must keep the existing data."""
        if (self.data_dir / "meta.properties").is_file():
            return
        cmd = [java, "-Xmx256m", "-cp", f"{jar_dir}/*", STORAGE_TOOL_CLASS, "format",
               "-t", cluster_id, "-c", str(self.properties_file)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(
                f"formatting Kafka storage in {self.data_dir} failed (exit {result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )

    def _rotate_log(self) -> None:
        if self.log_file.is_file() and self.log_file.stat().st_size > LOG_ROTATE_BYTES:
            self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))

    def _launch(self, java: str, jar_dir: Path) -> None:
        cmd = [
            java,
            f"-Xmx{self.heap_mb}m",
            f"-Xms{min(self.heap_mb, 128)}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
            "-cp",
            f"{jar_dir}/*",
            MAIN_CLASS,
            str(self.properties_file),
        ]
        with open(self.log_file, "ab") as out:
            out.write(f"\n=== fwjr: starting Kafka broker at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
            out.flush()
            # A new session keeps Ctrl-C in the starting terminal away from the JVM: shutdown
            # goes through stop() so that it is always the clean SIGTERM path.
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.state_dir, start_new_session=True,
                preexec_fn=None if self.detach else terminate_with_parent,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin: AdminClient | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise BrokerError(
                    f"Kafka broker exited with code {self._proc.returncode} while starting; "
                    f"see {self.log_file}:\n{self._log_tail()}"
                )
            if _port_open(self.broker_port):
                admin = admin or AdminClient({"bootstrap.servers": self.bootstrap, "logger": log})
                try:
                    if admin.list_topics(timeout=2).brokers:
                        return
                except KafkaException:
                    pass
            time.sleep(0.2)
        raise BrokerError(
            f"Kafka broker (pid {self._proc.pid if self._proc else '?'}) did not answer on {self.bootstrap} "
            f"within {timeout}s; see {self.log_file}:\n{self._log_tail()}"
        )

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._reap()
            if not alive(pid):
                return True
            time.sleep(0.1)
        return False

    def _reap(self) -> None:
        """Collect our own child's exit status so it does not linger as a zombie."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log written)"


_LOG4J2_CONFIG = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""


def ensure_topics(bootstrap: str, topics: dict[str, TopicSpec] | None = None, timeout: float = 30.0) -> None:
    """Create the missing topics and wait until every one has a leader for all its partitions.

    Existing topics are left as they are (their data matters more than the spec), so calling
    this on every start is safe.
    """
    specs = DEFAULT_TOPICS if topics is None else topics
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": log})
    existing = admin.list_topics(timeout=timeout).topics
    missing = [
        NewTopic(name, num_partitions=spec.partitions, replication_factor=1, config=spec.configs())
        for name, spec in specs.items()
        if name not in existing
    ]
    if missing:
        for name, future in admin.create_topics(missing, request_timeout=timeout).items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise BrokerError(f"creating topic {name!r} on {bootstrap} failed: {exc.args[0].str()}") from exc
    _wait_for_leaders(admin, bootstrap, list(specs), timeout)


def _wait_for_leaders(admin: AdminClient, bootstrap: str, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = names
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout).topics
        pending = [
            n for n in names
            if n not in topics or topics[n].error is not None
            or not topics[n].partitions or any(p.leader < 0 for p in topics[n].partitions.values())
        ]
        if not pending:
            return
        time.sleep(0.1)
    raise BrokerError(f"topics {pending} on {bootstrap} have no leader after {timeout}s")
