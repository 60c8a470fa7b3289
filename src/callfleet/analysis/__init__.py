"""Post-call analysis: extraction, QA scoring, categorization and summary."""

from callfleet.analysis.extraction import ExtractedValue, extract_value
from callfleet.analysis.pipeline import Analysis, analyze, analyze_async

__all__ = ["Analysis", "ExtractedValue", "analyze", "analyze_async", "extract_value"]
