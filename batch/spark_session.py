"""The SparkSession of the replay: local by default, with the Avro connector from Maven Central.

spark-avro is not in the pyspark wheel. It is resolved by Maven (tools/spark/pom.xml) at the
exact Spark and Scala versions of the installed pyspark, then handed to Spark as a plain jar
path (spark.jars). spark.jars.packages is not used: its Ivy resolver is a second dependency
route with its own cache and repositories, and Maven is the one route the project relies on.

Sizing is for the 2-core / 24 GB machines the project runs on: a small driver (local mode runs
the executors inside it), few shuffle partitions, no UI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fwjr.config import settings as current_settings
from fwjr.devstack.hdfs import ensure_maven_jars, pom_digest
from fwjr.resources import pom

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK_POM = pom("spark")
DEFAULT_MASTER = "local[2]"
DEFAULT_APP_NAME = "fwjr-replay"

# Avro's fast reader (the generic reader is the default): about a quarter less CPU per record.
_JVM_OPTIONS = "-Dorg.apache.avro.fastread=true"
# C1 only, unless the caller asks for the full JIT: on a replay of 100k FWJRs the C2 compiler
# spent ~30 s of CPU on Spark's generated code (18 s on one aggregate method of the 80-column
# partial rows), more than its faster code saved; on a day of ~1M FWJRs the full JIT pays for
# itself (100.4-100.6 s against 110.0-110.6 s with C1 only, alternating runs, quiet machine).
_C1_ONLY = "-XX:TieredStopAtLevel=1"

_SESSION_CONF: dict[str, str] = {
    "spark.driver.memory": "3g",
    "spark.driver.maxResultSize": "1g",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    # FWJR records carry names that differ only in case (guid and GUID in one output record).
    "spark.sql.caseSensitive": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Int.MaxValue turns off a byte-size check that Spark runs after every row it writes to
    # an Arrow batch for Python (batches stay bounded by maxRecordsPerBatch); on the replay's
    # nested records that check walked every child vector and took a fifth of the JVM's time.
    "spark.sql.execution.arrow.maxBytesPerBatch": "2147483647",
    "spark.python.worker.reuse": "true",
}


def spark_versions() -> tuple[str, str]:
    """(Spark version, Scala binary version) of the installed pyspark, read from its bundled jars."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    for jar in jars.glob("spark-core_*.jar"):
        scala = jar.name.removeprefix("spark-core_").split("-", 1)[0]
        return pyspark.__version__, scala
    raise RuntimeError(f"no spark-core_*.jar in {jars}: the pyspark install has no JVM jars")


def avro_jar_dir() -> Path:
    """Where the connector jars for the installed Spark are cached (under the settings' jar cache)."""
    spark_version, scala = spark_versions()
    return current_settings().jar_cache / "spark-jars" / f"{spark_version}_{scala}-{pom_digest(SPARK_POM)}"


def avro_jars() -> list[Path]:
    """The spark-avro jar matching the installed Spark, resolved from Maven Central on first use."""
    spark_version, scala = spark_versions()
    jar_dir = avro_jar_dir()
    ensure_maven_jars(SPARK_POM, jar_dir, {"spark.version": spark_version, "scala.binary.version": scala})
    jars = sorted(jar_dir.glob("*.jar"))
    if not jars:
        raise RuntimeError(f"Maven resolved {SPARK_POM} into {jar_dir} but left no jars there")
    return jars


_LOG4J2_PROPERTIES = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
"""


def quiet_log_config() -> Path:
    """A log4j2 file that keeps only errors: Spark's default prints several warnings per start-up
    (loopback hostname, no native Hadoop) that would bury the replay's own output."""
    path = current_settings().jar_cache / "spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J2_PROPERTIES:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_LOG4J2_PROPERTIES)
    return path


def resolve_master(master: str | None) -> str:
    """The master from the argument, else FWJR_SPARK_MASTER, else local[2]."""
    return master or os.environ.get("FWJR_SPARK_MASTER") or DEFAULT_MASTER


def get_spark(master: str | None = None, app_name: str = DEFAULT_APP_NAME, full_jit: bool = False) -> SparkSession:
    """A SparkSession with the Avro connector, UTC time and quiet logs (the running one if any).

    Python workers run the interpreter of this process, so they see the same venv (fastavro,
    orjson, the fwjr package) as the driver. `full_jit` keeps the JVM's C2 compiler, which
    pays off on large replays only (see _C1_ONLY).
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(resolve_master(master)).appName(app_name)
    builder = builder.config("spark.jars", ",".join(str(jar) for jar in avro_jars()))
    jvm = f"-Duser.timezone=UTC {_JVM_OPTIONS}" + ("" if full_jit else f" {_C1_ONLY}")
    builder = builder.config("spark.driver.extraJavaOptions", f"{jvm} -Dlog4j2.configurationFile={quiet_log_config().as_uri()}")
    builder = builder.config("spark.executor.extraJavaOptions", jvm)
    for key, value in _SESSION_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
