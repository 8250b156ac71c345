"""Training Codex-like models (Chen et al. 2021, section 3.1): a filtered, deduplicated and
decontaminated Python corpus, a BPE tokenizer with whitespace-run tokens, and tokenized data.

Heavy imports (tokenizers, datasketch, torch) happen inside the functions that need them.
"""
