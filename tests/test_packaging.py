"""The project's promises about itself: dependencies in step, a CLI with --help everywhere."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from lc_analytics.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _norm(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", spec)
    assert m, spec
    return m.group(1).lower().replace("_", "-"), (m.group(2) or "") + m.group(3).replace(" ", "")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(s) for s in project["dependencies"]}
    wanted |= {_norm(s) for s in project["optional-dependencies"]["dev"]}
    wanted |= {_norm(s) for s in project["optional-dependencies"]["sandbox"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_norm(s) for s in dep["pip"]}
        elif not dep.startswith(("python", "pip")) or dep.startswith("python-dotenv"):
            listed.add(_norm(dep))
    assert listed == wanted


def _commands(parser, prefix=()):
    for action in parser._actions:
        if getattr(action, "choices", None) and hasattr(action, "_name_parser_map"):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _commands(sub, (*prefix, name))


@pytest.mark.parametrize("command", [()] + sorted(_commands(build_parser())), ids=" ".join)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lc-analytics")


def test_console_script_is_installed_and_reports_errors_with_an_exit_code():
    exe = Path(sys.executable).parent / "lc-analytics"
    ok = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert ok.stdout.startswith("lc-analytics ")
    bad = subprocess.run([exe, "sandbox", "summary", "--preset", "huge"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "invalid choice: 'huge'" in bad.stderr


def test_the_project_kernel_is_registered_in_the_venv():
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    assert "lc-analytics" in specs, "run `make test` (it registers the kernel) or see Makefile"


def test_the_wheel_ships_the_notebooks_and_the_runner_finds_them_there(tmp_path):
    """An installed wheel can render reports: the notebooks are package data."""
    import shutil
    import zipfile

    from lc_analytics.reports import runner

    src = tmp_path / "src"
    shutil.copytree(ROOT / "lc_analytics", src / "lc_analytics",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, capture_output=True,
                   timeout=600)
    (wheel,) = (tmp_path / "dist").glob("lc_analytics-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("lc_analytics/notebooks/")}
    assert shipped == {p.name for p in (ROOT / "lc_analytics" / "notebooks").glob("*.ipynb")}
    assert {"viewers.ipynb", "bandwidth.ipynb", "costs.ipynb", "cost_review.ipynb"} <= shipped
    assert runner.NOTEBOOKS_DIR == ROOT / "lc_analytics" / "notebooks"
    assert not (ROOT / "notebooks").exists()


def test_the_sandbox_server_dependencies_are_an_extra_that_make_installs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("moto")]
    assert [d for d in project["optional-dependencies"]["sandbox"] if d.startswith("moto[server]")]
    assert "pip install --quiet -e '.[dev,sandbox]'" in (ROOT / "Makefile").read_text()


def test_lc_analytics_imports_without_moto_and_the_sandbox_names_the_extra():
    code = (
        "import sys\n"
        "class NoMoto:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'moto' or name.startswith('moto.'):\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, NoMoto())\n"
        "import lc_analytics, lc_analytics.cli, lc_analytics.sync, lc_analytics.reports\n"
        "import lc_analytics.actions, lc_analytics.costs.engine\n"
        "from lc_analytics.sandbox import SimulatedAccount, Sandbox\n"
        "assert 'moto' not in sys.modules\n"
        "try:\n"
        "    from lc_analytics.sandbox import start_r2\n"
        "except lc_analytics.SandboxError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('the R2 sandbox imported without moto')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "pip install lc-analytics[sandbox]" in out.stdout
