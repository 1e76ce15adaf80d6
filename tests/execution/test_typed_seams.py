"""The pipeline's seams are Protocols, and the trading path's public signatures are precise.

* an executor, a gate and an emitter written without subclassing anything of ours plug
  into the pipeline, and mypy (the project's own ``[tool.mypy]`` settings) accepts them,
  while it rejects an "executor" whose ``execute`` has the wrong shape;
* no public function, method or field of ``src/execution`` is annotated with ``Any``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import src.execution
import src.query
from src.execution import ExecutionPipeline, OrderIntent
from src.execution.events import ExecutionEvent

DUCKS = """
from __future__ import annotations

from src.execution import ExecutionPipeline, GateDecision, MarketState, OrderIntent
from src.execution.events import ExecutionEvent
from src.execution.models import Ack, Fill, Order


class Executor:
    def execute(self, order: Order, market_price: float | None) -> Fill | None:
        return None


class Gate:
    name = "Always"

    def check(self, intent: OrderIntent, market: MarketState) -> GateDecision:
        return GateDecision(True, "ok")


class Emitter:
    def emit(self, event: ExecutionEvent) -> None:
        pass


class Venue:  # a venue reporting an order's life (LifecycleExecutor)

    def submit(self, order: Order, market_price: float | None) -> list[Ack | Fill]:
        return [Ack(client_id=order.client_id, order_id="v-1")]

    def on_price(self, symbol: str, price: float) -> list[Fill]:
        return []

    def cancel(self, client_id: str) -> bool:
        return True


ExecutionPipeline(Executor(), Emitter(), gates=[Gate()])
ExecutionPipeline(Venue(), Emitter())
"""

WRONG_EXECUTOR = """
from src.execution import ExecutionPipeline


class NotAnExecutor:
    def execute(self, order: str) -> None:
        pass


class NotAVenue:
    def submit(self, order: str) -> None:
        pass

    def on_price(self, symbol: str, price: float) -> list[str]:
        return []

    def cancel(self, client_id: str) -> bool:
        return True


ExecutionPipeline(NotAnExecutor())
ExecutionPipeline(NotAVenue())
"""


def _mypy(repo_root: Path, tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "seam_check.py"
    module.write_text(source)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(repo_root / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports",
            "silent",
            str(module),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_duck_typed_seams_type_check_and_run(repo_root: Path, tmp_path: Path) -> None:
    ok = _mypy(repo_root, tmp_path, DUCKS)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = _mypy(repo_root, tmp_path, WRONG_EXECUTOR)
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert '"ExecutionPipeline" has incompatible type "NotAnExecutor"' in wrong.stdout
    assert '"ExecutionPipeline" has incompatible type "NotAVenue"' in wrong.stdout

    # ... and the same objects run: the order rests (the executor returned None).
    spec = importlib.util.spec_from_file_location("seam_ducks", tmp_path / "ducks.py")
    assert spec is not None and spec.loader is not None
    ducks = importlib.util.module_from_spec(spec)
    (tmp_path / "ducks.py").write_text(DUCKS.split("\nExecutionPipeline(")[0])
    spec.loader.exec_module(ducks)
    kinds: list[str] = []

    class Recorder:
        def emit(self, event: ExecutionEvent) -> None:
            kinds.append(event.kind)

    pipeline = ExecutionPipeline(ducks.Executor(), Recorder(), gates=[ducks.Gate()])
    result = pipeline.submit_order(
        OrderIntent(symbol="AAPL", side="buy", quantity=1, current_price=10.0)
    )
    assert result.status == "open"
    assert kinds == ["intent", "gate", "gate", "order"]
    assert [name for name, _ in result.gate_decisions] == ["IntentValidation", "Always"]

    kinds.clear()  # the venue's ack is applied; its cancel ends the order
    venue = ExecutionPipeline(ducks.Venue(), Recorder())
    acked = venue.submit_order(OrderIntent(symbol="AAPL", side="buy", quantity=1, current_price=1))
    assert (acked.status, acked.order_id) == ("open", "v-1")
    assert venue.cancel_order(acked.order.client_id) is True
    assert kinds == ["intent", "gate", "order", "ack", "cancel"]


def _public_annotations(package: ModuleType) -> dict[str, str]:
    """Every annotation (as written) of a public function, method or field in ``package``."""
    found: dict[str, str] = {}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            members = [(name, obj)]
            if inspect.isclass(obj):
                members += [
                    (f"{name}.{attr}", value)
                    for attr, value in vars(obj).items()
                    if not attr.startswith("_") or attr == "__init__"
                ]
                for field, text in inspect.get_annotations(obj).items():
                    if not field.startswith("_"):
                        found[f"{info.name}.{name}.{field}"] = str(text)
            for qualname, member in members:
                function = getattr(member, "fget", member)  # properties: their getter
                function = getattr(function, "__func__", function)  # class/static methods
                if inspect.isfunction(function):
                    for arg, text in inspect.get_annotations(function).items():
                        found[f"{info.name}.{qualname}({arg})"] = str(text)
    return found


def test_no_any_in_public_signatures_of_the_trading_path() -> None:
    annotations = _public_annotations(src.execution)
    assert "src.execution.pipeline.ExecutionPipeline.__init__(executor)" in annotations
    assert "src.execution.events.ExecutionEvent.payload" in annotations
    with_any = {where: text for where, text in annotations.items() if re.search(r"\bAny\b", text)}
    assert with_any == {}


# The modules of src/query whose public signatures are precise already; the others
# (records' Record.data, the summary's dicts) wait for the typed summary.
PRECISE_QUERY_MODULES = (
    "files",
    "filters",
    "lines",
    "paging",
    "parallel",
    "scan_events",
    "analytics.pairing_ranges",
    "analytics.sorted_samples",
)


def test_no_any_in_public_signatures_of_precise_query_modules() -> None:
    annotations = _public_annotations(src.query)
    assert "src.query.parallel.run_forked(jobs)" in annotations
    prefixes = tuple(f"src.query.{name}." for name in PRECISE_QUERY_MODULES)
    with_any = {
        where: text
        for where, text in annotations.items()
        if where.startswith(prefixes) and re.search(r"\bAny\b", text)
    }
    assert with_any == {}


def test_strict_packages_type_check(repo_root: Path, tmp_path: Path) -> None:
    """What `make lint` runs: mypy --strict over [tool.mypy]'s files (src/execution,
    src/common, src/query less the modules its overrides list)."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success: no issues found"), done.stdout
