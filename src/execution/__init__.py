"""Execution pipeline with structured telemetry.

Stable imports: ``from src.execution import ExecutionPipeline, OrderIntent, PaperExecutor``.
The seams the pipeline accepts are ``Protocol``s: :class:`Executor`, :class:`Gate` and
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
from src.execution.models import ExecutionResult, Fill, GateDecision, Order, OrderIntent
from src.execution.paper import PaperExecutor
from src.execution.pipeline import ExecutionPipeline, Executor

__all__ = [
    "ExecutionEvent",
    "ExecutionPipeline",
    "ExecutionResult",
    "Executor",
    "Fill",
    "Gate",
    "GateDecision",
    "IntentValidationGate",
    "KillSwitchGate",
    "MarketState",
    "MaxNotionalGate",
    "Order",
    "OrderIntent",
    "PaperExecutor",
    "PriceSanityGate",
    "event_to_dict",
]
