"""The Dockerfile's structure, read as text: there is no Docker engine here, so the image itself is
never built by the tests (docs/deployment.md says so). What can be checked is that a compiler stage
builds the wheel, that the slim runtime installs that wheel and nothing from the source tree, and
that every folder the package is built from is copied into the build stage."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from tests.fixtures.packaging import BUILD_FILES, packaged_folders
from tests.fixtures.paths import REPO


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def runs(self) -> list[str]:
        return [args for keyword, args in self.instructions if keyword == "RUN"]

    def copies(self) -> list[list[str]]:
        return [shlex.split(args) for keyword, args in self.instructions if keyword == "COPY"]


def stages() -> list[Stage]:
    """The Dockerfile's stages with their instructions; continued lines are joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    found: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            base, _, name = args.partition(" AS ")
            found.append(Stage(base.strip(), name.strip()))
        else:
            found[-1].instructions.append((keyword, " ".join(args.split())))
    return found


def test_a_compiler_stage_builds_the_wheel_and_the_slim_runtime_installs_it() -> None:
    build, runtime = stages()
    assert build.name == "build" and "slim" not in build.base, "mypyc needs the compiler of the full image"
    (wheel_dir,) = {m.group(1) for run in build.runs() for m in [re.search(r"pip wheel .*--wheel-dir (\S+) \.$", run)] if m}
    assert "slim" in runtime.base
    assert build.base.split(":")[1].split("-")[-1] == runtime.base.split(":")[1].split("-")[-1], "same Debian release"
    (install,) = [run for run in runtime.runs() if "pip install" in run]
    assert f"--mount=type=bind,from=build,source={wheel_dir},target={wheel_dir}" in install
    assert f"--no-index --find-links {wheel_dir} fwjr-monitor" in install
    assert not any(copy[-1] in ("/app", ".") or copy[0] == "." for copy in runtime.copies()), "no source tree in the runtime"
    assert any("openjdk-17-jre-headless" in run for run in runtime.runs())


def test_the_build_stage_copies_every_folder_the_package_is_built_from() -> None:
    build, _ = stages()
    copied = {copy[0] for copy in build.copies()}
    assert set(BUILD_FILES) <= {name for copy in build.copies() for name in copy[:-1]}
    assert packaged_folders() >= {"sql", "tools", "fwjr", "streams", "batch", "dashboard"}
    assert packaged_folders() <= copied


def test_the_runtime_gets_the_jars_resolved_at_build_where_its_cache_setting_points() -> None:
    build, runtime = stages()
    resolved = next(m.group(1) for run in build.runs() for m in [re.search(r"FWJR_CACHE_DIR=(\S+) python", run)] if m)
    (jars,) = [copy for copy in runtime.copies() if copy[0] == "--from=build"]
    assert jars[1] == resolved
    env = dict(pair.split("=", 1) for keyword, args in runtime.instructions if keyword == "ENV" for pair in args.split())
    assert env["FWJR_CACHE_DIR"] == jars[2]
