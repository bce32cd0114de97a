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
