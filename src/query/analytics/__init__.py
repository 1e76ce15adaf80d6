"""Execution analytics over event records: latency, slippage, gates, fills, timestamps."""

from src.query.analytics.stats import distribution, percentile
from src.query.analytics.summary import SummaryBuilder
from src.query.analytics.summary_model import Summary

__all__ = ["Summary", "SummaryBuilder", "distribution", "percentile"]
