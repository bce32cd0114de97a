"""Run a notebook as a report: papermill into reports/<name>/<date>/ (ipynb, html, summary).

`run` reads as its steps: find the notebook, resolve and check the parameters, execute it
with papermill in a private temporary folder (kernel `lc-analytics`, secrets stripped from
its environment), scrub the executed notebook, render notebook + HTML + summary.json into a
staging folder beside the run folder, move it into place (or keep it as
`<date>.failed-<time>/`), rewrite reports/index.html.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from ..analyses.periods import data_through, resolve_period
from ..costs.billing import last_complete_month
from ..readmodel import check_as_of
from ..warehouse import Warehouse
from .errors import ReportError
from .html import external_resources, index_html, notebook_html
from .scrub import (
    check_parameters,
    configured_secrets,
    kernel_env,
    mask_text,
    scrub_notebook,
)
from .summary import read_summary

KERNEL = "lc-analytics"
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"  # shipped in the package
DEFAULT_TIMEOUT = 900  # seconds per cell
_INJECTED_TAG = "injected-parameters"
_ERROR_TAG = "papermill-error-cell-tag"


@dataclass(frozen=True)
class ReportResult:
    """What one report run published."""

    name: str
    date: date  # the report's as_of, which names its folder
    folder: Path
    notebook: Path
    html: Path
    summary_path: Path
    summary: dict[str, Any] = field(repr=False)  # what summary.json holds
    parameters: dict[str, Any] = field(repr=False)  # as passed to the notebook
    seconds: float = 0.0

    @property
    def headline(self) -> dict[str, Any]:
        """The notebook's published headline numbers."""
        return self.summary["headline"]


def run(name: str, params: Mapping[str, Any] | None = None, *,
        out_root: str | Path = "reports", as_of: date | str | None = None,
        period: str | None = None, notebooks_dir: str | Path | None = None,
        kernel_name: str = KERNEL, timeout: int = DEFAULT_TIMEOUT,
        key: str | None = None) -> ReportResult:
    """Execute notebooks/<name>.ipynb and publish it under <out_root>/<name>/<as_of>/
    (<as_of>_<key>/ with a `key`: one folder per subject of a report that has several a day,
    e.g. a broadcast of the post-show report).

    `params` are notebook parameters (never secrets: a secret-looking name or a value that
    contains a configured secret is refused). `period` "YYYY-MM" sets period_start and
    period_end to that month, or `period` itself for a notebook that takes a month (costs,
    cost_review: there its default is the last complete month); `as_of` defaults to the
    warehouse's last complete day (clipped to the period's end). `db` defaults to the
    warehouse every command uses (LC_ANALYTICS_DB from the environment or .env).

    Renders <name>.ipynb (executed), <name>.html (code hidden, offline) and summary.json into
    a private folder and moves it into place only when every step succeeded, then rewrites
    <out_root>/index.html. A failing cell raises ReportError naming the cell; the failed
    run, with its partial notebook, is kept beside the run folder as
    `<as_of>.failed-<UTC time>/`, and a good run already published for that date is left
    untouched.

    >>> res = run("viewers", period="2026-06")                         # doctest: +SKIP
    >>> res.html                                                       # doctest: +SKIP
    PosixPath('reports/viewers/2026-06-30/viewers.html')
    """
    started = time.monotonic()
    source = _notebook(name, notebooks_dir)
    secrets = configured_secrets()
    parameters = _parameters(source, dict(params or {}), as_of, period, secrets)
    root = Path(out_root)
    folder = run_folder(root, name, parameters["as_of"], key)
    staging, failed = _staging(folder), _failed_folder(folder)  # named by the run's start
    try:
        executed, error = _execute(source, parameters, kernel_name, timeout)
        # a failed run's notebook is read where it is kept: beside the good run
        final = failed if error is not None else folder
        nb = scrub_notebook(executed, secrets, paths={
            "input_path": _display_path(source), "output_path": str(final / f"{name}.ipynb")})
        _write(staging / f"{name}.ipynb", _ipynb(nb))
        if error is not None:
            raise _cell_error(name, source, executed, error, final / f"{name}.ipynb")
        summary = _summary(nb, name, parameters)
        _publish_html(nb, staging, name, parameters, secrets)
        _write(staging / "summary.json", mask_text(json.dumps(summary, indent=2) + "\n",
                                                   secrets))
        _replace(staging, folder)
    except BaseException:
        _keep_failed(staging, failed)
        raise
    finally:
        if root.exists():
            _write_index(root, secrets)  # failed runs are listed too
    return ReportResult(name=name, date=date.fromisoformat(parameters["as_of"]), folder=folder,
                        notebook=folder / f"{name}.ipynb", html=folder / f"{name}.html",
                        summary_path=folder / "summary.json", summary=summary,
                        parameters=parameters, seconds=round(time.monotonic() - started, 2))


# -- steps -----------------------------------------------------------------------------------

def run_folder(root: Path, name: str, as_of: str, key: str | None = None) -> Path:
    """Where a run is published: <root>/<name>/<as_of>[_<key>].

    >>> run_folder(Path("reports"), "show", "2026-06-30", "ab12-20260630T190012Z").as_posix()
    'reports/show/2026-06-30_ab12-20260630T190012Z'
    """
    if key is None:
        return root / name / as_of
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", key):
        raise ReportError(f"not a report folder key: {key!r} (letters, digits and '-')",
                          report=name)
    return root / name / f"{as_of}_{key}"


def _notebook(name: str, notebooks_dir: str | Path | None) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise ReportError(f"not a report name: {name!r} (letters, digits, '-' and '_')",
                          report=name)
    folder = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    path = folder / f"{name}.ipynb"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.ipynb"))
        raise ReportError(f"no report notebook {path} (known: {', '.join(known) or 'none'})",
                          report=name)
    return path


def _declared(source: Path) -> dict[str, Any]:
    import papermill

    return papermill.inspect_notebook(str(source))


def _parameters(source: Path, params: dict[str, Any], as_of: date | str | None,
                period: str | None, secrets: list[str]) -> dict[str, Any]:
    """The parameters the notebook runs with: the caller's, checked, plus db / period /
    as_of resolved to explicit values (so the published notebook says what it used)."""
    check_parameters(params, secrets)
    declared = _declared(source)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ReportError(f"{source.stem} has no parameter(s) {', '.join(unknown)} (it takes: "
                          f"{', '.join(declared) or 'none'})", report=source.stem)
    if as_of is not None:
        params["as_of"] = as_of
    if period is None and "period" in declared and params.get("period"):
        period = str(params["period"])  # a notebook whose own parameter is the month
    if period is not None:
        params["period_start"], params["period_end"] = _month(period)
        if "period" in declared:
            params["period"] = period.strip()
    from ..notebook import default_db

    db = Path(params.get("db") or default_db()).expanduser().absolute()
    wh = Warehouse(db, read_only=True)  # fails early, naming the file, if it cannot be read
    check_as_of(wh, params.get("as_of") or data_through(wh))  # synced data, not a guess
    p = resolve_period(wh, params.get("period_start"), params.get("period_end"),
                       params.get("as_of"))
    resolved = {"db": str(db), "period_start": p.start.isoformat(),
                "period_end": p.end.isoformat(), "as_of": p.as_of.isoformat()}
    out = {k: _plain(v) for k, v in params.items()}
    out.update({k: v for k, v in resolved.items() if k in declared})
    if "period" in declared:  # a month notebook: `period` replaces period_start / period_end
        if not out.get("period"):  # its default: the last complete month as of as_of
            out["period"] = f"{last_complete_month(p.as_of):%Y-%m}"
        for key in ("period_start", "period_end"):
            if key not in declared:
                out.pop(key, None)
    out["as_of"] = resolved["as_of"]  # names the run folder even if the notebook ignores it
    return out


def _month(period: str) -> tuple[str, str]:
    try:
        first = datetime.strptime(period.strip(), "%Y-%m").date()
    except ValueError:
        raise ReportError(f"--period must be a month YYYY-MM (got {period!r})") from None
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first.isoformat(), date.fromordinal(nxt.toordinal() - 1).isoformat()


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _staging(folder: Path) -> Path:
    """A private folder beside the run folder, where the run is rendered (same filesystem,
    so publishing it is a rename)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))


def _failed_folder(folder: Path) -> Path:
    """`<date>.failed-<UTC time>` beside the run folder (a new one for every failed run)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = folder.with_name(f"{folder.name}.failed-{stamp}"), 1
    while candidate.exists():
        n += 1
        candidate = folder.with_name(f"{folder.name}.failed-{stamp}-{n}")
    return candidate


def _replace(staging: Path, folder: Path) -> None:
    """Move the complete run into place; the run it replaces is removed only afterwards."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.{os.getpid()}.{time.monotonic_ns()}.old")
        folder.rename(old)
    staging.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _keep_failed(staging: Path, failed: Path) -> None:
    """Keep what a failed run rendered as `failed` (`<date>.failed-<time>/`); drop an empty
    staging folder."""
    if not staging.exists():
        return
    if any(staging.iterdir()):
        staging.rename(failed)
    else:
        staging.rmdir()
        with suppress(OSError):  # the report's folder, if this run created it
            failed.parent.rmdir()


def _execute(source: Path, parameters: dict[str, Any], kernel_name: str, timeout: int,
             ) -> tuple[dict[str, Any], Exception | None]:
    """Run the notebook in a private temporary folder; return it (partial on a failure) and
    the papermill error, if any."""
    import nbformat
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    declared = set(_declared(source))
    passed = {k: v for k, v in parameters.items() if k in declared}
    with tempfile.TemporaryDirectory(prefix="lc-report-") as tmp:
        out = Path(tmp) / source.name
        error: Exception | None = None
        try:
            papermill.execute_notebook(
                str(source), str(out), parameters=passed, kernel_name=kernel_name,
                progress_bar=False, log_output=False, cwd=str(source.parent),
                execution_timeout=timeout, kernel_manager_class=_KernelManager)
        except PapermillExecutionError as exc:
            error = exc
        except NoSuchKernel as exc:
            raise ReportError(
                f"no Jupyter kernel named {kernel_name!r}: register it with `{sys.executable} "
                f"-m ipykernel install --sys-prefix --name {kernel_name}` (make does it)",
                report=source.stem) from exc
        except (DeadKernelError, RuntimeError, TimeoutError) as exc:  # died, never started
            error = exc
        if not out.exists():
            raise ReportError(f"report {source.stem}: the kernel failed before running any "
                              f"cell: {type(error).__name__}: {error}", report=source.stem)
        return nbformat.read(str(out), as_version=4), error


class _KernelManager(AsyncKernelManager):
    """Starts the report kernel without the secret-holding environment variables, and with
    CurveZMQ transport encryption when pyzmq and the kernelspec support it."""

    @default("transport_encryption")
    def _encrypt(self) -> str:
        import zmq

        return "auto" if zmq.has("curve") else "disabled"

    async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
        kw["env"] = kernel_env(kw.get("env"))
        await super().start_kernel(**kw)


def _cell_error(name: str, source: Path, executed: dict[str, Any], error: Any,
                notebook: Path) -> ReportError:
    """ReportError naming the failing cell by its index in the source notebook."""
    secrets = configured_secrets()
    index = getattr(error, "cell_index", None)
    if index is None:  # the kernel died or timed out outside a cell's error output
        return ReportError(
            mask_text(f"report {name}: {type(error).__name__}: {error}. The partial notebook "
                      f"is {notebook}", secrets),
            report=name, cell_index=None, notebook=str(notebook))
    # papermill's index counts its injected-parameters cell but not the error-marker cells
    # it inserts afterwards
    cells = [c for c in executed.get("cells", [])
             if _ERROR_TAG not in c.get("metadata", {}).get("tags", [])]
    skipped = sum(1 for c in cells[:index]
                  if _INJECTED_TAG in c.get("metadata", {}).get("tags", []))
    src_index = index - skipped
    lines = str(getattr(error, "source", "") or "").strip().splitlines()
    first = lines[0] if lines else ""
    ename, evalue = getattr(error, "ename", "Error"), getattr(error, "evalue", "")
    return ReportError(
        mask_text(f"report {name}: cell {src_index} of {source.name} failed "
                  f"(first line: {first!r}): {ename}: {evalue}. The partial notebook is "
                  f"{notebook}", secrets),
        report=name, cell_index=src_index, cell_first_line=mask_text(first, secrets),
        ename=ename, evalue=mask_text(str(evalue), secrets), notebook=str(notebook))


def _publish_html(nb: dict[str, Any], folder: Path, name: str, parameters: dict[str, Any],
                  secrets: list[str]) -> Path:
    page = mask_text(notebook_html(nb, f"{name} report, as of {parameters['as_of']}"), secrets)
    found = external_resources(page)
    if found:
        raise ReportError(f"report {name}: the HTML would load {found[0]!r}... from the network;"
                          " figures must use lc_analytics.notebook.setup()", report=name)
    return _write(folder / f"{name}.html", page)


def _summary(nb: dict[str, Any], name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    headline = read_summary(nb)
    if headline is None:
        raise ReportError(f"report {name}: no cell published a summary (call "
                          "lc_analytics.reports.publish_summary in the cell tagged `summary`)",
                          report=name)
    return {"report": name, "as_of": parameters["as_of"],
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "parameters": parameters, "headline": headline}


def _write_index(out_root: Path, secrets: list[str]) -> Path:
    return _write(out_root / "index.html", mask_text(index_html(out_root), secrets))


def write_index(out_root: str | Path = "reports") -> Path:
    """Rewrite <out_root>/index.html from the run folders found there (`run` does it after
    every run).

    >>> write_index("reports")                                         # doctest: +SKIP
    PosixPath('reports/index.html')
    """
    return _write_index(Path(out_root), configured_secrets())


def _ipynb(nb: dict[str, Any]) -> str:
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb))


def _write(path: Path, text: str) -> Path:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _display_path(source: Path) -> str:
    try:
        return str(source.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(source)
