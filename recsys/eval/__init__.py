"""Evaluation of a fine-tuned LLaRA: generation with exact answer matching, and candidate scoring."""
