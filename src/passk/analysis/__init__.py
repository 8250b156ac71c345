"""The paper's analyses over run directories (Chen et al. 2021, sections 3.3 and 7): ranking one
sample out of k, BLEU against functional correctness, temperature sweeps, and the report."""
