"""Prompts: per-domain templates, text-only / hybrid rendering, tokenised Arrow shards."""
