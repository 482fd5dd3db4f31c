"""A real HDFS on loopback (namenode + one datanode in one JVM) for tests and local replays.

There is no Hadoop installation and no hdfs CLI here, so the Apache Hadoop jars are resolved
once by Maven (tools/hadoop/pom.xml) and the minicluster launcher that ships in the
hadoop-client-minicluster jar (MiniHadoopClusterManager, with MapReduce off) runs with `java`.
Its version follows the Hadoop client inside the pyspark wheel, so Spark reads the cluster with
the same protocol version that wrote it. Copies into the cluster use Hadoop's own FsShell from
the same jars, so nothing here needs Spark.

`ensure_maven_jars` is also how batch/spark_session.py gets its connector jars.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from fwjr.config import settings as current_settings
from fwjr.devstack.processes import terminate_with_parent
from fwjr.resources import pom

HADOOP_POM = pom("hadoop")
JAR_MARKER = ".complete"
LOOPBACK = "127.0.0.1"
MINICLUSTER_MAIN = "org.apache.hadoop.mapreduce.MiniHadoopClusterManager"
FS_SHELL_MAIN = "org.apache.hadoop.fs.FsShell"
DEFAULT_HADOOP_VERSION = "3.4.1"
_DEFAULT_FS = re.compile(r"<name>fs\.defaultFS</name>\s*<value>hdfs://[^:<]+:(\d+)</value>")


class HdfsError(RuntimeError):
    """The loopback HDFS could not be prepared, started, reached or written."""


def tool_missing(jar_dir: Path) -> str | None:
    """Why a JVM tool with jars in jar_dir cannot run here (a skip reason), or None when it can:
    java must exist, and mvn too unless the jars are already resolved."""
    if shutil.which("java") is None:
        return "java is not on PATH (Java 17 is needed)"
    if shutil.which("mvn") is None and not (jar_dir / JAR_MARKER).exists():
        return f"mvn is not on PATH and no jars are cached in {jar_dir}"
    return None


def ensure_maven_jars(pom: Path, jar_dir: Path, properties: dict[str, str] | None = None) -> Path:
    """The pom's dependencies copied into jar_dir, resolved by Maven only on first use.

    Maven writes into a staging dir that is renamed into place, and a marker file is written
    last, so a killed or failed resolution never leaves a half-filled dir that looks complete.
    """
    if (jar_dir / JAR_MARKER).exists():
        return jar_dir
    mvn = shutil.which("mvn")
    if mvn is None:
        raise HdfsError(f"Maven (mvn) is not on PATH and {jar_dir} has no resolved jars for {pom}")
    jar_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{jar_dir.name}-", dir=jar_dir.parent))
    defines = [f"-D{key}={value}" for key, value in (properties or {}).items()]
    cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
           f"-DoutputDirectory={staging}", "-DincludeScope=runtime", *defines]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise HdfsError(f"Maven could not resolve {pom} ({' '.join(defines)}): {result.stdout[-2000:]}{result.stderr[-2000:]}")
    (staging / JAR_MARKER).write_text(" ".join(cmd))
    try:
        staging.rename(jar_dir)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (jar_dir / JAR_MARKER).exists():
            raise HdfsError(f"could not move resolved jars into {jar_dir}: it exists but is incomplete; delete it")
    return jar_dir


def pom_digest(pom: Path) -> str:
    """A short digest of a pom, so editing it resolves into a fresh cache dir."""
    return hashlib.sha256(pom.read_bytes()).hexdigest()[:12]


def bundled_hadoop_version() -> str:
    """The Hadoop client version inside the installed pyspark wheel (the one Spark reads HDFS with)."""
    try:
        import pyspark
    except ImportError:
        return DEFAULT_HADOOP_VERSION
    jars = Path(pyspark.__file__).parent / "jars"
    for jar in jars.glob("hadoop-client-api-*.jar"):
        return jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
    return DEFAULT_HADOOP_VERSION


def hadoop_jar_dir(version: str | None = None) -> Path:
    """Where the Hadoop jars of `version` (default: pyspark's) are cached."""
    return current_settings().jar_cache / "hadoop-jars" / f"{version or bundled_hadoop_version()}-{pom_digest(HADOOP_POM)}"


def ensure_hadoop_jars(version: str | None = None) -> Path:
    """Hadoop minicluster + client jars of `version` (default: pyspark's), resolved once."""
    version = version or bundled_hadoop_version()
    return ensure_maven_jars(HADOOP_POM, hadoop_jar_dir(version), {"hadoop.version": version})


def _classpath(jar_dir: Path, conf_dir: Path | None = None) -> str:
    """Every jar of jar_dir, after conf_dir when given (Hadoop reads core-site.xml from the classpath)."""
    entries = [str(conf_dir)] if conf_dir is not None else []
    entries.extend(sorted(str(jar) for jar in jar_dir.glob("*.jar")))
    return os.pathsep.join(entries)


@dataclass
class HdfsHandle:
    """A running loopback HDFS: its URL, its files on disk, and the JVM that serves it."""

    url: str
    port: int
    state_dir: Path
    conf_dir: Path
    jar_dir: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def log_file(self) -> Path:
        return self.state_dir / "hdfs.log"

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the cluster JVM: SIGTERM lets Hadoop's shutdown hooks close the namenode cleanly."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)


def _site_xml(properties: dict[str, str]) -> str:
    rows = "".join(f"  <property><name>{k}</name><value>{v}</value></property>\n" for k, v in properties.items())
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n'


def _write_client_conf(conf_dir: Path, url: str) -> None:
    """Client config: FsShell refuses to run without a core-site.xml, and one datanode means replication 1
    (set in hdfs-site.xml, because hdfs-default.xml is loaded after core-site.xml and would win)."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "core-site.xml").write_text(_site_xml({"fs.defaultFS": url}), encoding="utf-8")
    (conf_dir / "hdfs-site.xml").write_text(_site_xml({"dfs.replication": "1"}), encoding="utf-8")


def _log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_for_port(process: subprocess.Popen, written_conf: Path, log_file: Path, timeout: float) -> int:
    """The namenode's RPC port, read from the config the launcher writes once the cluster is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HdfsError(f"HDFS minicluster exited with code {process.returncode} before it was up; log {log_file}:\n{_log_tail(log_file)}")
        if written_conf.exists():
            match = _DEFAULT_FS.search(written_conf.read_text(errors="replace"))
            if match:
                return int(match.group(1))
        time.sleep(0.1)
    process.kill()
    raise HdfsError(f"HDFS minicluster was not up after {timeout:.0f}s; log {log_file}:\n{_log_tail(log_file)}")


def start_hdfs(state_dir: Path, port: int = 0, timeout: float = 120.0) -> HdfsHandle:
    """Start a fresh HDFS (formatted namenode + one datanode) on 127.0.0.1; port 0 picks a free one.

    All data, the client config and the log live under state_dir. The namenode is formatted on
    every start: this is a disposable cluster for tests and local replays, not a store.
    """
    java = shutil.which("java")
    if java is None:
        raise HdfsError("java is not on PATH; the HDFS minicluster needs Java 17")
    jar_dir = ensure_hadoop_jars()
    state_dir = Path(state_dir).resolve()
    data_dir = state_dir / "dfs"
    shutil.rmtree(data_dir, ignore_errors=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    written_conf = state_dir / "cluster-site.xml"
    written_conf.unlink(missing_ok=True)
    log_file = state_dir / "hdfs.log"
    cmd = [
        java, "-Xmx768m", f"-Djava.io.tmpdir={state_dir}", "-cp", _classpath(jar_dir), MINICLUSTER_MAIN,
        "-nomr", "-format", "-nnport", str(port), "-nnhttpport", "0",
        "-writeConfig", str(written_conf),
        "-D", f"hdfs.minidfs.basedir={data_dir}",
    ]
    with open(log_file, "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=state_dir, start_new_session=True,
                                   preexec_fn=terminate_with_parent if sys.platform == "linux" else None)
    actual_port = _wait_for_port(process, written_conf, log_file, timeout)
    url = f"hdfs://{LOOPBACK}:{actual_port}"
    conf_dir = state_dir / "client-conf"
    _write_client_conf(conf_dir, url)
    return HdfsHandle(url=url, port=actual_port, state_dir=state_dir, conf_dir=conf_dir, jar_dir=jar_dir, process=process)


def fs_shell(handle: HdfsHandle, *args: str, timeout: float = 300.0) -> str:
    """Run one Hadoop FsShell command (`-put`, `-ls`, ...) against the cluster; returns its stdout."""
    java = shutil.which("java")
    if java is None:
        raise HdfsError("java is not on PATH; Hadoop's FsShell needs Java 17")
    cmd = [java, "-Xmx256m", "-cp", _classpath(handle.jar_dir, handle.conf_dir), FS_SHELL_MAIN, *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise HdfsError(f"hadoop fs {' '.join(args)} against {handle.url} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def put(handle: HdfsHandle, local_dir: Path | str, remote_dir: str) -> str:
    """Copy a local tree into the cluster as remote_dir (created, parents too); returns its hdfs:// URL."""
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        raise HdfsError(f"put: local source {local_dir} is not a directory")
    remote = "/" + remote_dir.strip("/")
    parent = remote.rsplit("/", 1)[0]
    if parent:
        fs_shell(handle, "-mkdir", "-p", parent)
    fs_shell(handle, "-put", "-f", str(local_dir), remote)
    return handle.url + remote
