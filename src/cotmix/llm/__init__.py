"""Pretrained LMs on GSM8K/MATH mixtures (paper §6): mixture builder, SFT and GRPO through TRL, eval.

Optional: needs `pip install 'cotmix[llm]'` (transformers, TRL, datasets, gguf). The core package
never imports this subpackage; only `cotmix llm ...` does. `answers` is pure Python.
"""
