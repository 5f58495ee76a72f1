"""Prompts: per-domain templates, the prompt variants (text, hybrid, behaviour, id), tokenised Arrow shards."""
