"""Execution analytics over event records: latency, slippage, gates, fills, timestamps."""

from src.query.analytics.stats import distribution, percentile
from src.query.analytics.summary import SummaryBuilder

__all__ = ["SummaryBuilder", "distribution", "percentile"]
