"""Every ``Aichat`` a g4f release on the package index shipped, read from the release wheels,
and an environment for each with what it imports.

The wheels are fetched with pip (``pip download --no-deps``) into a cache folder, read, and
dropped, but for the first release of each distinct file (the one installed to grade it). The
versions are walked from the oldest; the walk ends at the first release without the file once
it has been seen. What was read is kept in ``index.json`` so that a second run fetches only
releases it has not read. Nothing of g4f is changed: the wheel is installed as released, and
the graded file is loaded from there.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

PACKAGE = "g4f"
FILE_NAME = "Aichat.py"
# Releases fetched at once while walking the versions.
BATCH = 6
# Import names whose distribution is named otherwise, for imports a release does not declare.
DISTRIBUTIONS = {"PIL": "pillow", "Crypto": "pycryptodome"}
# The index of the versions' files read so far; a change of its layout starts it anew.
INDEX_VERSION = 1


class HistoryError(Exception):
    """A step of the history that cannot be done here; the message says which and why."""


def _run(command: list[str], *, timeout: float = 900) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise HistoryError(f"{' '.join(command[:4])}...: {error}") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines()
                 if line.strip() and not line.startswith("WARNING")]
        raise HistoryError(lines[-1] if lines else f"{command[0]} exited {done.returncode}")
    return done.stdout


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))


def released_versions() -> list[str]:
    """Every version of g4f on the package index, oldest first (``pip index versions``)."""
    output = _run([sys.executable, "-m", "pip", "index", "versions", PACKAGE])
    found = re.search(r"Available versions:\s*(.+)", output)
    if found is None:
        raise HistoryError(f"pip index versions {PACKAGE} listed no versions")
    return sorted((version.strip() for version in found.group(1).split(",")), key=version_key)


@dataclass
class Release:
    """What one release's wheel holds of the file: where, its SHA-256, its date."""

    version: str
    path: str | None
    sha256: str | None
    date: str | None

    @classmethod
    def read(cls, version: str, wheel: Path) -> Release:
        with zipfile.ZipFile(wheel) as archive:
            names = [name for name in archive.namelist()
                     if name.startswith(PACKAGE + "/") and name.endswith("/" + FILE_NAME)]
            latest = max(datetime(*info.date_time) for info in archive.infolist())
            if not names:
                return cls(version, None, None, latest.date().isoformat())
            if len(names) > 1:
                raise HistoryError(f"{wheel.name} holds {len(names)} files named {FILE_NAME}: "
                                   f"{', '.join(names)}")
            data = archive.read(names[0])
        return cls(version, names[0], hashlib.sha256(data).hexdigest(),
                   latest.date().isoformat())


@dataclass
class Revision:
    """One distinct file: its hash, the releases that shipped it, the first one's wheel."""

    sha256: str
    path: str
    releases: list[Release] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        """Where the releases hold the file, in the order it moved."""
        return list(dict.fromkeys(release.path or "" for release in self.releases))

    @property
    def first(self) -> Release:
        return self.releases[0]

    @property
    def label(self) -> str:
        versions = [release.version for release in self.releases]
        return versions[0] if len(versions) == 1 else f"{versions[0]} to {versions[-1]}"

    @property
    def short(self) -> str:
        return self.sha256[:12]


class Cache:
    """The history's folder: ``wheels/``, ``envs/``, ``index.json``. An ``offline`` cache
    fetches nothing: what is not in it yet is a ``HistoryError`` saying how to get it."""

    def __init__(self, root: Path, *, offline: bool = False) -> None:
        self.root = root
        self.offline = offline
        self.wheels = root / "wheels"
        self.envs = root / "envs"
        self.index_file = root / "index.json"

    def load_index(self) -> dict[str, Release]:
        try:
            data = json.loads(self.index_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if data.get("version") != INDEX_VERSION:
            return {}
        return {item["version"]: Release(**item) for item in data["releases"]}

    def save_index(self, index: dict[str, Release]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        releases = [vars(index[version]) for version in sorted(index, key=version_key)]
        temporary = self.index_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({"version": INDEX_VERSION, "releases": releases},
                                        indent=1) + "\n", encoding="utf-8")
        temporary.replace(self.index_file)

    def wheel(self, version: str) -> Path:
        """The release's wheel, fetched with pip when it is not in the cache."""
        self.wheels.mkdir(parents=True, exist_ok=True)
        found = sorted(self.wheels.glob(f"{PACKAGE}-{version}-*.whl"))
        if found:
            return found[0]
        if self.offline:
            raise HistoryError(f"{PACKAGE} {version} is not in {self.root} yet: "
                               f"python -m mock_server.grade.history --prepare {version}")
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
              "--only-binary=:all:", "--dest", str(self.wheels), f"{PACKAGE}=={version}"])
        found = sorted(self.wheels.glob(f"{PACKAGE}-{version}-*.whl"))
        if not found:
            raise HistoryError(f"pip download {PACKAGE}=={version} left no wheel")
        return found[0]

    def read(self, version: str) -> Release:
        try:
            wheel = self.wheel(version)
        except HistoryError:
            if self.offline:
                raise  # not fetched yet: say so
            return Release(version, None, None, None)  # no wheel for it (an sdist only, say)
        return Release.read(version, wheel)


def walk(cache: Cache, versions: list[str],
         say: Callable[[str], None] = lambda text: None) -> list[Release]:
    """The releases that shipped the file, oldest first, each read once into the index."""
    index = cache.load_index()
    shipped: list[Release] = []
    seen_file = False
    with ThreadPoolExecutor(BATCH) as pool:
        for start in range(0, len(versions), BATCH):
            batch = versions[start:start + BATCH]
            unread = [version for version in batch if version not in index]
            for release in pool.map(cache.read, unread):
                index[release.version] = release
            if unread:
                cache.save_index(index)
                say(f"read {', '.join(unread)}")
            for version in batch:
                release = index[version]
                if release.sha256 is not None:
                    seen_file = True
                    shipped.append(release)
                elif seen_file and release.date is not None:
                    return shipped
    return shipped


def revisions_of(releases: list[Release]) -> list[Revision]:
    """The distinct files, in the order they first shipped."""
    found: dict[str, Revision] = {}
    for release in releases:
        assert release.sha256 is not None and release.path is not None
        found.setdefault(release.sha256, Revision(release.sha256, release.path))
        found[release.sha256].releases.append(release)
    return list(found.values())


def prune(cache: Cache, revisions: list[Revision]) -> None:
    """Drop the wheels but each revision's first release's, which is the one installed."""
    keep = {release.version for release in (revision.first for revision in revisions)}
    for wheel in cache.wheels.glob(f"{PACKAGE}-*.whl"):
        if wheel.name.split("-")[1] not in keep:
            wheel.unlink()


# --- what the file imports -------------------------------------------------------------------

def _module_file(archive: zipfile.ZipFile, module: str) -> str | None:
    base = module.replace(".", "/")
    for name in (base + ".py", base + "/__init__.py"):
        if name in archive.namelist():
            return name
    return None


def _imports(source: str, module: str, is_package: bool) -> Iterator[tuple[str, bool]]:
    """(absolute module, optional) for each import of a module: optional when made inside a
    ``try`` (the module runs without it)."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST, optional: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            inside = optional or isinstance(child, ast.Try)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, inside
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - child.level + 1])
                    target = f"{base}.{child.module}" if child.module else base
                    yield target, inside
                    for alias in child.names:  # "from . import helper" names a module
                        yield f"{target}.{alias.name}", inside
                elif child.module:
                    yield child.module, inside
            elif not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from visit(child, inside)
            else:
                yield from visit(child, True)  # imported when called: not needed to load

    yield from visit(tree, False)


def third_party_imports(wheel: Path, path: str) -> dict[str, bool]:
    """The top-level names of what loading ``path`` imports outside g4f and the standard
    library, following its imports inside g4f (the packages' ``__init__`` files are not run:
    the harness loads the file with bare parent packages), each with whether it is needed."""
    found: dict[str, bool] = {}
    with zipfile.ZipFile(wheel) as archive:
        module = path[:-3].replace("/", ".")
        todo, done = [(module, path, False)], set()
        while todo:
            name, file, optional = todo.pop()
            if file in done:
                continue
            done.add(file)
            source = archive.read(file).decode("utf-8")
            for imported, inside in _imports(source, name, file.endswith("__init__.py")):
                top = imported.partition(".")[0]
                if top == PACKAGE:
                    target = _module_file(archive, imported)
                    if target is not None and not target.endswith("/__init__.py"):
                        todo.append((imported, target, optional or inside))
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found[top] = found.get(top, False) or not (optional or inside)
    return found


def requirements_for(wheel: Path, names: dict[str, bool]) -> tuple[list[str], list[str]]:
    """The distributions of the wheel's own requirements that give ``names``, and those of
    the needed names it does not declare (the name's own distribution, or the one
    ``DISTRIBUTIONS`` says)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(archive.read(name).decode("utf-8") for name in archive.namelist()
                        if name.endswith(".dist-info/METADATA"))
    declared = {}
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            name = re.split(r"[\s;(<>=!~\[]", line.split(":", 1)[1].strip())[0]
            declared[re.sub(r"[-_.]+", "_", name).lower()] = name
    chosen, undeclared = [], []
    for name, needed in sorted(names.items()):
        distribution = declared.get(re.sub(r"[-_.]+", "_", name).lower())
        if distribution is not None:
            chosen.append(distribution)
        elif needed:
            undeclared.append(DISTRIBUTIONS.get(name, name))
    return chosen, undeclared


# --- an environment per revision -------------------------------------------------------------

@dataclass
class Environment:
    python: str
    target: str
    installed: list[str]


def uv() -> str:
    """The uv command next to this Python (g4f-aichat's dev extra installs it)."""
    found = shutil.which("uv", path=os.path.dirname(sys.executable)) or shutil.which("uv")
    if found is None:
        raise HistoryError("uv is not installed: pip install 'g4f-aichat[dev]'")
    return found


def environment(cache: Cache, revision: Revision) -> Environment:
    """The revision's first release installed as released (no dependencies) into a virtual
    environment of its own, with the distributions its file imports at their versions of the
    release's day (``uv pip install --exclude-newer``); made once, then reused."""
    wheel = cache.wheel(revision.first.version)
    # One per release installed: the file is the revision's, the g4f modules it imports the
    # release's own.
    folder = cache.envs / f"{revision.short}-{revision.first.version}"
    python = folder / "bin" / "python"
    stamp = folder / ".installed"
    declared, undeclared = requirements_for(wheel, third_party_imports(wheel, revision.path))
    requirements = declared + undeclared
    if not stamp.exists() and cache.offline:
        raise HistoryError(f"the environment of {PACKAGE} {revision.first.version} is not in "
                           f"{cache.root} yet: python -m mock_server.grade.history --prepare "
                           f"{revision.first.version}")
    if not stamp.exists():
        shutil.rmtree(folder, ignore_errors=True)
        day = date.fromisoformat(revision.first.date or "2023-01-01") + timedelta(days=1)
        _run([uv(), "venv", "--quiet", "--python", sys.executable, str(folder)])
        _run([uv(), "pip", "install", "--quiet", "--native-tls", "--python", str(python),
              "--no-deps", str(wheel)])
        if requirements:
            _run([uv(), "pip", "install", "--quiet", "--native-tls", "--python", str(python),
                  "--exclude-newer", day.isoformat(), *requirements])
        stamp.write_text(json.dumps(requirements) + "\n", encoding="utf-8")
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    return Environment(str(python), str(Path(site.strip()) / revision.path), requirements)


def describe_file(source: str) -> dict[str, Any]:
    """What a revision's file shows, read from its text: its transport, and where it departs
    from the June 2023 module's wire and handling (the contract's bytes, no status check)."""
    transport = ("curl_cffi" if "StreamSession" in source or "curl_cffi" in source
                 else "aiohttp" if "ClientSession(" in source
                 else "requests" if "requests.post" in source else "unknown")
    changes = []
    if "format_prompt" in source:
        changes.append("format_prompt")
    temperature = re.search(r"""['"]temperature['"]\s*[:,]\s*(?:kwargs\.get\(['"]"""
                            r"""temperature['"],\s*)?([0-9.]+)""", source)
    if temperature and temperature.group(1) != "1":
        changes.append(f"temperature {temperature.group(1)}")
    chrome = re.search(r"Chrome/(\d+)", source)
    if chrome and chrome.group(1) != "113":
        changes.append(f"Chrome {chrome.group(1)} headers")
    if "cookies" in source:
        changes.append("cookies")
    impersonate = re.search(r"""impersonate\s*=\s*['"]([^'"]+)""", source)
    if impersonate:
        changes.append(f"impersonation ({impersonate.group(1)})")
    timeout = re.search(r"timeout\s*(?::\s*int\s*)?=\s*(\d+)", source)
    if timeout:
        changes.append(f"its own timeout ({timeout.group(1)} s)")
    if "raise_for_status" in source:
        changes.append("raise_for_status")
    if re.search(r"""if not .*\[['"]response['"]\]""", source):
        changes.append("raises on a refusal")
    working = re.search(r"working\s*=\s*(True|False)", source)
    shape = next((name for name in ("create_async_generator", "create_async",
                                    "create_completion", "_create_completion")
                  if re.search(rf"def {name}\(", source)), "?")
    return {"transport": transport, "wire": changes, "shape": shape,
            "working": working.group(1) if working else "?"}
