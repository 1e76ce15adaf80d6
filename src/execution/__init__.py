"""Execution pipeline with structured telemetry.

Stable imports: ``from src.execution import ExecutionPipeline, OrderIntent, PaperExecutor``.
The seams the pipeline accepts are ``Protocol``s: :class:`Executor` (or the richer
:class:`LifecycleExecutor`, a venue reporting acks, rejects and fills), :class:`Gate` and
``src.execution.telemetry.Emitter``; anything with their methods plugs in, no subclassing.
"""

from src.execution.events import ExecutionEvent, event_to_dict
from src.execution.gates import (
    Gate,
    IntentValidationGate,
    KillSwitchGate,
    MaxNotionalGate,
    PriceSanityGate,
)
from src.execution.market import MarketState
from src.execution.models import (
    Ack,
    ExecutionReport,
    ExecutionResult,
    Fill,
    GateDecision,
    Order,
    OrderIntent,
    Reject,
)
from src.execution.paper import PaperExecutor
from src.execution.pipeline import ExecutionPipeline, Executor, LifecycleExecutor

__all__ = [
    "Ack",
    "ExecutionEvent",
    "ExecutionPipeline",
    "ExecutionReport",
    "ExecutionResult",
    "Executor",
    "Fill",
    "Gate",
    "GateDecision",
    "IntentValidationGate",
    "KillSwitchGate",
    "LifecycleExecutor",
    "MarketState",
    "MaxNotionalGate",
    "Order",
    "OrderIntent",
    "PaperExecutor",
    "PriceSanityGate",
    "Reject",
    "event_to_dict",
]
