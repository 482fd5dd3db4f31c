"""The wheel works wherever it is installed: built from the sources, installed into a fresh virtual
environment outside the checkout, and run from another working directory, it finds its DDL and
poms inside itself, and `fwjr migrate`, `fwjr jobs`, `fwjr aggregate` and `fwjr dashboard` work.

The wheel is built the way the Dockerfile's build stage builds it (`pip wheel`, with the build
requirements of pyproject.toml in an isolated environment, so pip fetches them from PyPI or its
cache), from a copy of the sources so the build writes nothing into the checkout. Only fwjr-monitor
comes from the wheel: its dependencies are those of the checkout's .venv, put on the new
environment's path by a .pth file. A directory named in a .pth file is only appended to sys.path
(its own .pth files, among them the editable install's finder, are not run), so nothing of the
checkout becomes importable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fwjr.devstack.broker import free_port
from tests.fixtures.packaging import BUILD_FILES, packaged_folders
from tests.fixtures.paths import REPO, WMARCHIVE
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.wheel

SAMPLE = WMARCHIVE / "fwjr_samples" / "ProductionFailedFwjr.json"
CHECKOUT_ONLY = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")


@dataclass
class Installed:
    venv: Path
    work: Path
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """One command of the installed environment, from the working directory outside the checkout."""
        return subprocess.run(list(args), cwd=self.work, env=self.env, capture_output=True, text=True, timeout=300)

    def fwjr(self, *args: str) -> subprocess.CompletedProcess:
        result = self.run(str(self.venv / "bin" / "fwjr"), *args)
        assert result.returncode == 0, f"fwjr {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}"
        return result


def _pip(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"pip {' '.join(args)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """fwjr-monitor built into a wheel and installed alone into a new environment in tmp."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(REPO / name, source / name)
    for folder in packaged_folders():
        shutil.copytree(REPO / folder, source / folder, ignore=CHECKOUT_ONLY)
    dist = root / "dist"
    _pip("wheel", "--no-deps", "--wheel-dir", str(dist), str(source))
    (wheel,) = dist.glob("fwjr_monitor-*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    _pip("--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index", str(wheel))
    site_packages = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site_packages / "checkout_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    work = root / "work"
    work.mkdir()
    shutil.copy2(SAMPLE, work / SAMPLE.name)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FWJR_", "PYTHON")) and key != "VIRTUAL_ENV"}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        FWJR_HOME=str(root / "home"),
        FWJR_DASHBOARD_PORT=str(free_port()),
    )
    return Installed(venv, work, env)


@pytest.fixture(scope="module")
def migrated(installed: Installed) -> str:
    """What `fwjr migrate` printed on the installed environment's fresh embedded store."""
    return installed.fwjr("migrate").stdout


def test_the_package_and_its_files_come_from_the_wheel(installed: Installed) -> None:
    probe = (
        "import json, sys, fwjr, fwjr.merge, fwjr.resources as r;"
        "print(json.dumps({'fwjr': fwjr.__file__, 'merge': fwjr.merge.__file__, 'sys_path': sys.path,"
        " 'sql': sorted(p.name for p in r.sql_dir().glob('*.sql')), 'sql_dir': str(r.sql_dir()),"
        " 'poms': {t: str(r.pom(t)) for t in ('kafka', 'hadoop', 'spark') if r.pom(t).is_file()}}))"
    )
    result = installed.run(installed.python, "-c", probe)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["fwjr"]).is_relative_to(installed.venv)
    assert found["merge"].endswith(".so"), "the core is compiled with mypyc"
    from_checkout = [Path(entry).resolve() for entry in found["sys_path"] if entry and Path(entry).resolve().is_relative_to(REPO)]
    assert from_checkout == [Path(sysconfig.get_path("purelib")).resolve()], "only the dependencies, by the .pth file"
    assert found["sql"] == sorted(path.name for path in (REPO / "sql").glob("*.sql"))
    assert Path(found["sql_dir"]).is_relative_to(installed.venv)
    assert sorted(found["poms"]) == ["hadoop", "kafka", "spark"]
    assert all(Path(pom).is_relative_to(installed.venv) for pom in found["poms"].values())


def test_migrate_applies_every_migration_of_the_repository(migrated: str) -> None:
    versions = [path.stem for path in sorted((REPO / "sql").glob("*.sql")) if not path.name.startswith("0000_")]
    assert migrated.strip() == f"applied: {', '.join(versions)}"


def test_jobs_and_aggregate_read_a_reference_document(installed: Installed) -> None:
    (job,) = [json.loads(line) for line in installed.fwjr("jobs", SAMPLE.name).stdout.splitlines()]
    assert (job["exit_code"], job["exit_step"], job["failed"]) == (8001, "cmsRun1", True)
    aggregated = installed.fwjr("aggregate", SAMPLE.name)
    (row,) = [json.loads(line) for line in aggregated.stdout.splitlines()]
    assert (row["jobs"], row["failed"], row["site"]) == (1, 1, job["site"])
    assert "1 jobs in 1 rows" in aggregated.stderr


@dataclass
class Board:
    process: subprocess.Popen
    log: Path
    url: str

    def health(self) -> dict | None:
        """The health answer, or None while the board is not listening yet; fails if it has exited."""
        if self.process.poll() is not None:
            raise AssertionError(f"fwjr dashboard exited {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.url + "api/v1/health", timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            return None


@pytest.fixture
def board(installed: Installed, migrated: str) -> Iterator[Board]:
    """`fwjr dashboard` of the installed environment, serving its migrated embedded store."""
    log = installed.work / "dashboard.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(installed.venv / "bin" / "fwjr"), "dashboard"], cwd=installed.work, env=installed.env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield Board(process, log, f"http://127.0.0.1:{installed.env['FWJR_DASHBOARD_PORT']}/")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_board_answers_its_health_check(board: Board) -> None:
    answers: list[dict] = []

    def answered() -> bool:
        found = board.health()
        if found is not None:
            answers.append(found)
        return found is not None

    wait_until(answered, timeout=120, what="the health answer of the installed board")
    (health,) = answers
    assert health["status"] == "ok"
    assert health["last_fwjr"] is None, "a freshly migrated store has seen no FWJR"
