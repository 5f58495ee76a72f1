"""Prompts: per-domain templates, the prompt variants (text, hybrid, behaviour, id, text-user), tokenised Arrow shards."""
