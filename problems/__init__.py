"""Problem classes: one module per class, each defining ``FAMILY`` (a
:class:`qbench.problem.ProblemFamily`), plus its instance manifest ``<kind>.toml``."""
