"""pass@k metrics: the unbiased estimator of Chen et al. 2021 and bootstrap intervals.

Chen et al. 2021 ("Evaluating Large Language Models Trained on Code"), section 2.1, estimate
pass@k from n >= k samples per problem, c of them correct, as 1 - C(n-c, k) / C(n, k); the
naive 1 - (1 - c/n)^k underestimates it. This package adds that estimator (per problem,
vectorised, and averaged over a benchmark), a percentile bootstrap interval over problems, and
a per-k summary that says why a k cannot be computed instead of dropping it. It depends only
on the standard library and numpy.
"""

from .bootstrap import bootstrap_ci
from .ks import check_ks, parse_ks
from .passk import (
    PassAtK,
    estimate_pass_at_k,
    filtered_pass_at_k,
    mean_pass_at_k,
    pass_at_k,
    summarize_pass_at_k,
)

__all__ = [
    "PassAtK",
    "bootstrap_ci",
    "check_ks",
    "estimate_pass_at_k",
    "filtered_pass_at_k",
    "mean_pass_at_k",
    "parse_ks",
    "pass_at_k",
    "summarize_pass_at_k",
]
