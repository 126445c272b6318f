"""A core-only install: ``oioi validate`` works without the mock's and the suite's dependencies.

``pip install oioi-conformance`` installs the protocol core; the ``mock`` and ``certify`` extras
add Flask, gunicorn, requests, pytest and Allure. Here a child process blocks those imports
(``sys.modules[name] = None`` makes ``import name`` fail, as if it were not installed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MOCK_EXTRA = ("flask", "werkzeug", "gunicorn", "requests")
CERTIFY_EXTRA = (*MOCK_EXTRA, "pytest", "_pytest", "allure", "allure_pytest")


def run_without(blocked: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` in a child process in which the modules ``blocked`` cannot be imported."""
    prelude = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, check=False)


def oioi_without(blocked: tuple[str, ...], *argv: str) -> subprocess.CompletedProcess[str]:
    return run_without(blocked, f"from oioi_cli import main\nmain({list(argv)!r})")


def test_validate_runs_without_the_extras(tmp_path: Path) -> None:
    message = tmp_path / "verify.json"
    message.write_text(json.dumps({"rfid-verify": {"rfid": "04523022AA4881"}}))
    done = oioi_without(CERTIFY_EXTRA, "validate", str(message))
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


@pytest.mark.parametrize(("argv", "extra"), [
    (("mock", "emp", "--api-key", "k" * 16), "oioi-conformance[mock]"),
    (("certify", "cpo", "--url", "http://127.0.0.1:9/api/v4/request"), "oioi-conformance[certify]"),
    (("proxy", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:9", "--db", "x"), "oioi-conformance[mock]"),
    (("report", "--db", "x.sqlite3"), "oioi-conformance[certify]"),
    (("load", "emp", "--url", "http://127.0.0.1:9/api/v4/request"), "oioi-conformance[load]"),
])
def test_a_command_without_its_extra_says_what_to_install(argv: tuple[str, ...], extra: str) -> None:
    """The sentence names the command and the extra it needs (which brings every module it lacks)."""
    done = oioi_without(CERTIFY_EXTRA, *argv)
    assert done.returncode == 2
    assert done.stderr.startswith(f"oioi {argv[0]} ") and " needs " in done.stderr and extra in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_help_lists_every_command_without_the_extras() -> None:
    done = oioi_without(CERTIFY_EXTRA, "--help")
    assert done.returncode == 0
    assert all(name in done.stdout for name in ("validate", "mock", "proxy", "certify", "report", "replay", "regress",
                                                "load", "demo"))


def test_the_pytest_entry_point_loads_the_plugin_only_with_the_certify_extra() -> None:
    """pytest imports the entry point in every project; without the extra it must load nothing."""
    show = "import conformance.pytest_entry as entry\nprint(entry.pytest_plugins)"
    assert run_without(MOCK_EXTRA, show).stdout.strip() == "[]"
    assert run_without((), show).stdout.strip() == "['conformance.plugin']"


def test_pytest_starts_in_a_project_without_the_extra(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text("def test_other_project():\n    assert True\n")
    done = run_without(MOCK_EXTRA, f"import pytest\nsys.exit(pytest.main([{str(tmp_path)!r}, '-q', "
                                   "'-p', 'no:cacheprovider', '-p', 'no:xdist']))")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout


def test_the_extras_table_names_what_pyproject_installs() -> None:
    """``oioi.cli.EXTRAS`` (module → extra) covers every distribution of the mock and certify extras."""
    import re
    import tomllib

    from oioi.cli import EXTRAS

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra in ("mock", "certify"):
        for requirement in extras[extra]:
            name = re.split(r"[<>=\[;! ]", requirement)[0]
            if name != "oioi-conformance":
                assert EXTRAS.get(name.replace("-", "_")) == extra, requirement


def test_python_m_mock_server_without_its_extra_says_what_to_install() -> None:
    done = run_without(MOCK_EXTRA, "import runpy\nsys.argv = ['mock_server', 'emp', '--api-key', 'k' * 16]\n"
                                   "runpy.run_module('mock_server', run_name='__main__')")
    assert done.returncode == 2
    assert "oioi-conformance[mock]" in done.stderr and "Traceback" not in done.stderr
