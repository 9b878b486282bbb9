"""Benchmarks against Hugging Face transformers and TRL (`make bench`, `cotmix bench`)."""
