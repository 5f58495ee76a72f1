"""LLaRA-style recommendation: sequential recommenders and LLMs prompted with behavioural tokens."""
