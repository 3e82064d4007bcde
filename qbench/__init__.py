"""qbench: a benchmark harness for quantum and classical combinatorial optimization."""

__version__ = "0.1.0"
