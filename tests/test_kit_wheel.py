"""A project that only installs the built wheel can use both fixtures: the wheel is built from a
copy of the sources, installed into a new virtual environment, and the example tests of the
documentation run there, from a folder outside the source tree, with nothing imported or
registered by hand (pytest finds the plugin through the wheel's ``pytest11`` entry point).

Offline: the wheel is built with the project's own setuptools (``--no-build-isolation``) and
the new environment takes the dependencies (Flask, requests, responses, pytest...) from the
environment running these tests, through a ``.pth`` line to a folder of links to its packages,
leaving out the project's own editable install; the suite checks that every module it uses,
the distribution's metadata and the plugin come from the new environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the wheel is built from; mock_server/contract is a link to ../contract.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "aichat", "mock_server", "contract")
DOCS = ("README.md",)
EXAMPLE = re.compile(r"```python\n# (test_\w+\.py)\n(.*?)```", re.DOTALL)
STEP_TIMEOUT = 180

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
    [wheel] = [dist for dist in metadata.distributions() if dist.metadata["Name"] == "aichat"]
    assert Path(str(wheel.locate_file(""))).resolve().is_relative_to(VENV), "the wheel's"
    assert [(entry.group, entry.value) for entry in wheel.entry_points
            if entry.name == "aichat" and entry.group == "pytest11"] \
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
                found.setdefault(name, f"# {name}\n{code}")
    return found


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=STEP_TIMEOUT, check=False)
    assert completed.returncode == 0, (
        f"{' '.join(command)} exited {completed.returncode}:\n"
        f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return completed


def clean_environment() -> dict[str, str]:
    """This environment without what would lead the child to the source tree or elsewhere."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "AICHAT_BASE_URL",
               "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
               "PYTEST_CURRENT_TEST", "PYTEST_VERSION")
    return {name: value for name, value in os.environ.items()
            if name not in dropped and not name.lower().endswith("_proxy")}


def test_the_examples_are_in_the_documentation() -> None:
    assert {"test_greeter_live.py", "test_greeter_offline.py", "test_greeter_both.py"} \
        <= set(examples())


def test_a_project_that_installs_the_wheel_uses_both_fixtures(tmp_path: Path) -> None:
    env = clean_environment()

    # 1. The wheel, built from a copy so the source tree gets no build/ or egg-info.
    source = tmp_path / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir() and not origin.is_symlink():
            shutil.copytree(origin, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(origin, source / name, follow_symlinks=False)
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--wheel-dir", str(dist), str(source)], tmp_path, env)
    [wheel] = dist.glob("aichat-*.whl")

    # 2. A new environment with the wheel, its dependencies seen from this environment.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)], tmp_path, env)
    site_packages = Path(run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"], tmp_path, env)
                         .stdout.strip())
    # Every package of this environment but the project's own (its editable install).
    dependencies = tmp_path / "dependencies"
    dependencies.mkdir()
    ours = sysconfig.get_paths()
    for folder in dict.fromkeys([ours["purelib"], ours["platlib"]]):
        for entry in Path(folder).iterdir():
            if entry.name in ("aichat", "mock_server") or entry.name.startswith(
                    ("aichat-", "__editable__")) or (dependencies / entry.name).exists():
                continue
            (dependencies / entry.name).symlink_to(entry)
    (site_packages / "_dependencies_from_the_test_environment.pth").write_text(
        f"{dependencies}\n")

    # 3. The documentation's example tests and a check of where everything comes from.
    project = tmp_path / "project"
    project.mkdir()
    suite = examples()
    for name, code in suite.items():
        (project / name).write_text(code, encoding="utf-8")
    (project / "test_installed.py").write_text(
        textwrap.dedent(INSTALLED_SUITE.format(root=str(ROOT))), encoding="utf-8")
    completed = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"],
                    project, env)
    # Only passes: no failure, error, skip or xfail on the closing line.
    counts = re.fullmatch(r"(\d+) passed in [\d.]+s", completed.stdout.strip().splitlines()[-1])
    assert counts is not None, completed.stdout
    tests_in_examples = sum(code.count("\ndef test_") for code in suite.values())
    assert int(counts.group(1)) >= tests_in_examples + 3, completed.stdout
