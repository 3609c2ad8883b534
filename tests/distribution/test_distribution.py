"""The distribution as users get it: ``python -m build`` makes an sdist and, from it, a wheel
that pass ``twine check`` and hold what the project ships; the wheel installs into new
virtual environments outside the source tree, with no more than each extra promises (README.md,
Install):

- ``g4f-aichat`` alone: the provider and the ``aichat`` command on ``requests``; no Flask, and
  ``aichat-mock`` says in one line which extra to install;
- ``g4f-aichat[mock]``: the ``aichat-mock`` command starts on a free port and answers;
- ``g4f-aichat[testing]``: a project of its own uses both fixtures, with the example tests of
  the documentation, found through the wheel's ``pytest11`` entry point.

Offline: the build uses the project's own setuptools (no build isolation) and each new
environment takes its dependencies from the environment running these tests, through a
``.pth`` line to a folder of links to exactly the distributions its extra requires (followed
through their own requirements), read from the installed packages' metadata.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mock_server.testing.child_process import MockProcess
from mock_server.testing.remote import RemoteMock
from support.paths import ROOT

DISTRIBUTION = "g4f-aichat"  # README.md, Install
# What the distribution is built from; mock_server/contract is a link to ../contract.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "aichat", "mock_server", "contract")
DOCS = ("README.md", "docs/testing-your-code.md")
EXAMPLE = re.compile(r"```python\n# (test_\w+\.py)\n(.*?)```", re.DOTALL)
STEP_TIMEOUT = 180
# What the wheel must hold (README.md, Install): the seed module, the typing markers, the contract,
# pages.
SHIPPED = ("aichat/Aichat.py", "aichat/py.typed", "mock_server/py.typed",
           "mock_server/contract/openapi.json", "mock_server/contract/cases/01_simple.json",
           "mock_server/web/templates/chat.html", "mock_server/web/templates/inspector.html",
           "mock_server/web/static/chat.js", "mock_server/web/static/inspector.js",
           "mock_server/web/static/replies.js",
           "mock_server/web/static/style.css")


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=STEP_TIMEOUT, check=False)
    if check:
        assert completed.returncode == 0, (
            f"{' '.join(command)} exited {completed.returncode}:\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return completed


def clean_environment() -> dict[str, str]:
    """This environment without what would lead a child to the source tree or elsewhere."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "AICHAT_BASE_URL",
               "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
               "PYTEST_CURRENT_TEST", "PYTEST_VERSION")
    return {name: value for name, value in os.environ.items()
            if name not in dropped and not name.lower().endswith("_proxy")}


# --- the dependencies an extra brings, from this environment --------------------------------

def closure(requirement: str) -> dict[str, metadata.Distribution]:
    """The installed distributions ``requirement`` needs, followed through their own
    requirements (markers evaluated for this interpreter and the extras asked for)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [Requirement(requirement)]
    while todo:
        wanted = todo.pop()
        name = canonicalize_name(wanted.name)
        dist = metadata.distribution(wanted.name)
        for text in dist.requires or []:
            needed = Requirement(text)
            if needed.marker is None or any(
                    needed.marker.evaluate({**default_environment(), "extra": extra})
                    for extra in ["", *wanted.extras]):
                todo.append(needed)
        found.setdefault(name, dist)
    return found


def top_level_entries(dist: metadata.Distribution) -> set[Path]:
    """What a distribution put into site-packages: its packages, modules and metadata folder."""
    base = Path(str(dist.locate_file("")))
    entries = set()
    for file in dist.files or []:
        parts = Path(file).parts
        if parts and parts[0] not in ("..", "__pycache__") and not parts[0].endswith(".pth"):
            entries.add(base / parts[0])
    return {entry for entry in entries if entry.exists()}


def environment_with(tmp_path: Path, name: str, wheel: Path, extra: str | None,
                     also: tuple[str, ...] = ()) -> Path:
    """A new virtual environment with the wheel and, linked from this environment, what
    ``g4f-aichat[extra]`` and the requirements ``also`` require; its Python."""
    env = clean_environment()
    venv = tmp_path / name
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)], tmp_path, env)
    site_packages = Path(run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"], tmp_path, env)
                         .stdout.strip())
    links = tmp_path / f"{name}-dependencies"
    links.mkdir()
    wanted = DISTRIBUTION + (f"[{extra}]" if extra else "")
    needed: dict[str, metadata.Distribution] = {}
    for requirement in (wanted, *also):
        needed.update(closure(requirement))
    for dist_name, dist in needed.items():
        if dist_name == DISTRIBUTION:
            continue  # the wheel itself, not this environment's editable install
        for entry in top_level_entries(dist):
            if not (links / entry.name).exists():
                (links / entry.name).symlink_to(entry)
    (site_packages / "_dependencies_from_the_test_environment.pth").write_text(f"{links}\n")
    return python


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The sdist and the wheel ``python -m build`` makes (the wheel built from the sdist),
    and what the build printed."""
    tmp_path = tmp_path_factory.mktemp("build")
    source = tmp_path / "source"
    source.mkdir()
    # A copy, so the source tree gets no build/ or egg-info.
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir() and not origin.is_symlink():
            shutil.copytree(origin, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(origin, source / name, follow_symlinks=False)
    dist = tmp_path / "dist"
    completed = run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist),
                     str(source)], tmp_path, clean_environment())
    [sdist] = dist.glob("g4f_aichat-*.tar.gz")
    [wheel] = dist.glob("g4f_aichat-*-py3-none-any.whl")
    return sdist, wheel, completed.stdout + completed.stderr


def test_build_makes_an_sdist_and_a_wheel_that_twine_accepts(built: tuple[Path, Path, str]
                                                             ) -> None:
    sdist, wheel, output = built
    run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)], ROOT)
    # setuptools warns about any folder of data it ships without being told (and about
    # anything else it would do differently one day); byte-compiling is off in the tests.
    warnings = [line for line in output.splitlines()
                if "warning" in line.lower() and "byte-compiling is disabled" not in line]
    assert warnings == []


def test_the_wheel_holds_the_module_the_contract_the_pages_and_the_typing_marker(
        built: tuple[Path, Path, str]) -> None:
    sdist, wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED) <= names
    cases = {Path(name).name for name in names
             if name.startswith("mock_server/contract/cases/")}
    assert cases == {path.name for path in (ROOT / "contract" / "cases").glob("*.json")}
    wheel_metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(wheel_metadata).decode("utf-8")
    assert re.search(r"^Name: g4f-aichat$", text, re.M)
    with tarfile.open(sdist) as archive:
        assert any(name.endswith("/aichat/Aichat.py") for name in archive.getnames())


def test_the_provider_alone_brings_requests_and_no_web_server(
        built: tuple[Path, Path, str], tmp_path: Path) -> None:
    python = environment_with(tmp_path, "provider", built[1], None)
    env = clean_environment()
    venv_bin = python.parent
    probe = run([str(python), "-c", textwrap.dedent("""
        import importlib.util, aichat
        from importlib import metadata
        print(metadata.distribution("g4f-aichat").metadata["Name"])
        print(sorted(name for name in ("flask", "werkzeug", "gunicorn", "gevent", "jsonschema",
                                       "httptools", "uvloop", "orjson", "responses",
                                       "pytest")
                     if importlib.util.find_spec(name) is not None))
        print(aichat.Aichat.url)
    """)], tmp_path, env).stdout.splitlines()
    assert probe == ["g4f-aichat", "[]", "https://chat-gpt.org/chat"]
    helped = run([str(venv_bin / "aichat"), "--help"], tmp_path, env)
    assert helped.stdout.startswith("usage: aichat")
    refused = run([str(venv_bin / "aichat-mock")], tmp_path, env, check=False)
    assert refused.returncode == 1
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert "pip install 'g4f-aichat[mock]'" in line


# README.md, Install: the mock's classes name the extra to install (the socketless kit's is the
# testing extra, which brings the mock's too).
EXTRA_OF_EXPORT = {"InProcessMock": "g4f-aichat[testing]"}


def test_the_mock_classes_without_their_extra_say_which_to_install(
        built: tuple[Path, Path, str], tmp_path: Path) -> None:
    python = environment_with(tmp_path, "provider", built[1], None)
    env = clean_environment()
    # The docs' "Without pytest" import, as a script: its traceback ends in the one line.
    script = run([str(python), "-c", "from mock_server import LiveServer"], tmp_path, env,
                 check=False)
    assert script.returncode == 1
    assert re.fullmatch(r"ModuleNotFoundError: mock_server\.LiveServer needs \w+, which is not "
                        r"installed: pip install 'g4f-aichat\[mock\]'",
                        script.stderr.splitlines()[-1]), script.stderr
    # Every export but the version, each in a fresh process.
    exports = run([str(python), "-c", "import mock_server; print(*mock_server.__all__)"],
                  tmp_path, env).stdout.split()
    refused = []
    for name in exports:
        found = run([str(python), "-c", textwrap.dedent(f"""
            try:
                from mock_server import {name}
            except ModuleNotFoundError as error:
                print(error)
            else:
                print("imported")
        """)], tmp_path, env).stdout.strip()
        if found != "imported":  # plain data types need no library
            extra = EXTRA_OF_EXPORT.get(name, "g4f-aichat[mock]")
            assert re.fullmatch(rf"mock_server\.{name} needs \w+, which is not installed: "
                                rf"pip install '{re.escape(extra)}'", found), (name, found)
            refused.append(name)
    # The classes the docs have users import all need the mock's libraries.
    assert {"AichatMock", "Engine", "InProcessMock", "LiveServer", "MockProcess", "RemoteMock",
            "create_app"} <= set(refused)


def test_the_mock_extra_runs_the_mock_server(built: tuple[Path, Path, str],
                                             tmp_path: Path) -> None:
    python = environment_with(tmp_path, "mock", built[1], "mock", also=("pytest",))
    command = [str(python.parent / "aichat-mock")]
    with MockProcess(command=command, env=clean_environment()) as process:
        with RemoteMock(process.url) as mock:
            assert mock.health()["status"] == "ok"
        with RemoteMock(process.url) as mock:
            mock.reply("installed")
        import aichat
        assert aichat.complete([{"role": "user", "content": "Hi"}],
                               base_url=process.url) == "installed"
    assert process.returncode == 0

    # pytest without the testing extra: the socketless fixture names what to install.
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_offline.py").write_text(
        "def test_offline(aichat_responses):\n    pass\n", encoding="utf-8")
    completed = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"],
                    project, clean_environment(), check=False)
    assert completed.returncode == 1, completed.stdout
    assert re.search(r"^aichat_responses needs responses, which is not installed: "
                     r"pip install 'g4f-aichat\[testing\]'$", completed.stdout, re.M), \
        completed.stdout


INSTALLED_SUITE = '''
import sys
from importlib import metadata
from pathlib import Path

import aichat
import mock_server
import mock_server.testing.pytest_plugin

VENV = Path(sys.prefix).resolve()
SOURCE_TREE = Path({root!r})


def inside(module, folder):
    return Path(module.__file__).resolve().is_relative_to(folder)


def test_the_packages_come_from_the_new_environment(pytestconfig):
    assert VENV != Path(sys.base_prefix).resolve(), "running in a virtual environment"
    for module in (aichat, mock_server, mock_server.testing.pytest_plugin):
        assert inside(module, VENV), module.__file__
        assert not inside(module, SOURCE_TREE), module.__file__
    wheel = metadata.distribution("g4f-aichat")
    assert Path(str(wheel.locate_file(""))).resolve().is_relative_to(VENV), "the wheel's"
    assert [(entry.group, entry.value) for entry in wheel.entry_points
            if entry.name == "aichat" and entry.group == "pytest11"] \\
        == [("pytest11", "mock_server.testing.pytest_plugin")]
    plugin = pytestconfig.pluginmanager.get_plugin("aichat")
    assert plugin is mock_server.testing.pytest_plugin, "registered through the entry point"
    assert all(Path(entry or ".").resolve() != SOURCE_TREE for entry in sys.path)


def test_the_wheel_ships_the_contract_and_pages():
    package = Path(mock_server.__file__).parent
    assert (package / "contract" / "openapi.json").is_file()
    assert list((package / "contract" / "cases").glob("*.json"))
    assert (package / "web" / "templates" / "chat.html").is_file()
    assert (package / "web" / "static" / "chat.js").is_file()


def test_the_live_fixture_is_there(aichat_server):
    assert aichat_server.base_url.startswith("http://127.0.0.1:")
    assert aichat.complete([{{"role": "user", "content": "Hi"}}]) == "You said: Hi"
'''


def examples() -> dict[str, str]:
    """The example test files of the documentation, by file name."""
    found: dict[str, str] = {}
    for doc in DOCS:
        path = ROOT / doc
        if path.is_file():
            for name, code in EXAMPLE.findall(path.read_text(encoding="utf-8")):
                assert name not in found, f"{name} is shown twice in the documentation"
                found[name] = f"# {name}\n{code}"
    return found


def test_the_examples_are_in_the_documentation() -> None:
    assert set(examples()) == {
        "test_greeter_live.py", "test_greeter_offline.py", "test_greeter_both.py",
        "test_weather_by_prompt.py", "test_verify.py", "test_marker.py", "test_parallel.py",
        "test_site_itself.py"}


def test_the_testing_extra_gives_a_project_both_fixtures(built: tuple[Path, Path, str],
                                                         tmp_path: Path) -> None:
    python = environment_with(tmp_path, "testing", built[1], "testing")
    project = tmp_path / "project"
    project.mkdir()
    suite = examples()
    for name, code in suite.items():
        (project / name).write_text(code, encoding="utf-8")
    (project / "test_installed.py").write_text(
        textwrap.dedent(INSTALLED_SUITE.format(root=str(ROOT))), encoding="utf-8")
    completed = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"],
                    project, clean_environment())
    # Only passes: no failure, error, skip or xfail on the closing line.
    counts = re.fullmatch(r"(\d+) passed in [\d.]+s", completed.stdout.strip().splitlines()[-1])
    assert counts is not None, completed.stdout
    tests_in_examples = sum(code.count("\ndef test_") for code in suite.values())
    assert int(counts.group(1)) >= tests_in_examples + 3, completed.stdout


def test_requires_python_names_the_python_the_oldest_run_uses() -> None:
    """requires-python claims only what is tested: make test runs the suite on that version."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    oldest = re.fullmatch(r">=(\d+\.\d+)", pyproject["project"]["requires-python"])
    assert oldest is not None
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert f'pyenv latest {oldest.group(1)} ' in makefile
    assert re.search(r"^test: .*\n(\t.*\n)*\t\$\(MAKE\) --no-print-directory test-oldest$",
                     makefile, re.M)
    versions = {classifier.rpartition(" :: ")[2]
                for classifier in pyproject["project"]["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)}
    assert oldest.group(1) in versions
