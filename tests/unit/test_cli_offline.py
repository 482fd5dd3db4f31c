"""`fwjr jobs` and `fwjr aggregate` as operators and scripts run them: the installed command, in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from fwjr.cli.main import app
from tests.fixtures.paths import REPO, WMARCHIVE

FWJR = str(REPO / ".venv" / "bin" / "fwjr")
REFERENCE = WMARCHIVE
SAMPLE_PATHS = [
    str(REFERENCE / "fwjr_samples"),
    str(REFERENCE / "schemas" / "fwjr_prod_2016-03_sample.json"),
    *sorted(str(p) for p in (REFERENCE / "legacy_2015_2016").glob("*.json")),
]
SAMPLE_COUNT = 11 + 1 + 4


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="400", NO_COLOR="1")
    env.pop("WMARCHIVE_ERROR_CODES", None)
    return subprocess.run([FWJR, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def test_jobs_prints_one_json_line_per_sample() -> None:
    result = run("jobs", *SAMPLE_PATHS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == SAMPLE_COUNT
    records = [json.loads(line) for line in lines]
    assert {r["jobtype"] for r in records} >= {"Harvesting", "LogCollect", "Merge", "Processing", "Production", "Skim"}
    failed = next(r for r in records if r["fwjr_id"] == "1257-0")  # ProductionFailedFwjr.json
    assert (failed["exit_code"], failed["exit_step"], failed["failed"]) == (8001, "cmsRun1", True)
    assert failed["metrics"]["wall_time"] == 2.0
    assert f"{SAMPLE_COUNT} jobs, 0 rejected" in result.stderr


def test_jobs_reports_rejections_on_stderr_and_keeps_going(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"meta_data": {"ts": 1458283295}, "steps": [')
    (tmp_path / "lines.jsonl").write_text(
        (REFERENCE / "fwjr_samples" / "MergeFailedFwjr.json").read_text().replace("\n", "") + "\n"
        + '{"meta_data": {"ts": -3}, "steps": [{"name": "cmsRun1"}]}\n'
        + "\n"
        + "[1, 2]\n"
    )
    result = run("jobs", str(tmp_path))
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert json.loads(line)["exit_code"] == 71304
    rejected = [line for line in result.stderr.splitlines() if line.startswith("rejected: ")]
    assert len(rejected) == 3
    assert any("broken.json" in r and "invalid JSON" in r for r in rejected)
    assert any("lines.jsonl:2" in r and "meta_data.ts is not a positive epoch time" in r for r in rejected)
    assert any("lines.jsonl:4" in r and "not a JSON object" in r for r in rejected)
    assert "1 jobs, 3 rejected" in result.stderr


@pytest.mark.parametrize("command", ["jobs", "aggregate"])
def test_exit_1_when_nothing_could_be_read(tmp_path: Path, command: str) -> None:
    (tmp_path / "broken.json").write_text("not json at all")
    result = run(command, str(tmp_path / "broken.json"), str(tmp_path / "missing.json"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "invalid JSON" in result.stderr
    assert "file not found" in result.stderr


def test_aggregate_day_jsonl_counts_duplicates_once(tmp_path: Path) -> None:
    failed = REFERENCE / "fwjr_samples" / "ProductionFailedFwjr.json"
    shutil.copy(failed, tmp_path / "a.json")
    shutil.copy(failed, tmp_path / "b.json")
    result = run("aggregate", str(tmp_path), "--precision", "day", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    # ts 1458283295 is 2016-03-18T06:41:35Z
    assert row["bucket"] == "2016-03-18T00:00:00Z"
    assert row["precision"] == "day"
    assert (row["workflow"], row["task"], row["site"]) == ("sryu_MonteCarlo_Sryu_reqmgr2_160318_050144_6584", "Production", "T2_CH_CERN")
    assert (row["exit_code"], row["exit_step"], row["jobstate"]) == (8001, "cmsRun1", "jobfailed")
    assert (row["jobs"], row["failed"]) == (1, 1)
    assert row["wall_time_sum"] == 2.0
    assert row["TotalJobCPU_sum"] == 0.32795
    assert "AvgEventCPU_sum" not in row
    assert "1 jobs in 1 rows, 1 duplicates, 0 rejected" in result.stderr


def test_aggregate_all_samples_by_day_adds_up() -> None:
    result = run("aggregate", *SAMPLE_PATHS, "--precision", "day", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(r["jobs"] for r in rows) == SAMPLE_COUNT
    assert sum(r["failed"] for r in rows) == 4
    assert all(r["bucket"].endswith("T00:00:00Z") for r in rows)
    assert rows == sorted(rows, key=lambda r: r["bucket"])
    # the 2016 test agent's jobs of 2016-03-17 (ts 1458243230 and 1458244013)
    day = [r for r in rows if r["bucket"] == "2016-03-17T00:00:00Z"]
    assert sum(r["jobs"] for r in day) == 2
    assert sum(r.get("TotalJobCPU_sum", 0) for r in day) == pytest.approx(1497.96 + 6.31004)


def test_aggregate_table_format() -> None:
    result = run("aggregate", str(REFERENCE / "fwjr_samples"), "--precision", "month", "--format", "table")
    assert result.returncode == 0, result.stderr
    assert "bucket" in result.stdout and "core_hours" in result.stdout
    assert "2016-03-01T00:00:00Z" in result.stdout
    assert "T2_CH_CERN" in result.stdout


def test_aggregate_rejects_unknown_precision() -> None:
    result = run("aggregate", str(REFERENCE / "fwjr_samples"), "--precision", "fortnight")
    assert result.returncode == 2
    assert "fortnight" in result.stderr


def _command_paths() -> list[list[str]]:
    """Every command and sub-command the CLI has, read from the app itself."""
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, prefix + [name])

    walk(typer.main.get_command(app), [])
    return paths


def test_the_cli_has_the_offline_commands() -> None:
    assert {"jobs", "aggregate"} <= {path[0] for path in _command_paths() if path}


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "fwjr")
def test_help_on_every_command(path: list[str]) -> None:
    result = run(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
