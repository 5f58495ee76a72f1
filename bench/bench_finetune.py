"""Fine-tuning throughput on this machine: tokens/s, padding share and model FLOP utilisation.

    python bench/bench_finetune.py [--prompts data/prompts/movielens/smollm2-135m] [--steps 6]

Runs real optimiser steps of the default recipe (LoRA + projector, hybrid task) on the
materialised training prompts. Utilisation = achieved model FLOP/s over the fp32 matmul peak
measured in the same process. Model FLOPs per token count the forward (2N) and the backward
through activations (2N; the frozen base gets no weight gradients) plus attention (3x its forward).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from recsys.config import LoraParams, TrainParams
from recsys.llm.base_model import load_base
from recsys.llm.batches import collate, length_grouped_order
from recsys.llm.behaviour import seeded_behaviour
from recsys.llm.model import Llara, with_lora
from recsys.prompts.shards import read_all


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """fp32 FLOP/s of a square matmul, the best of `repeats`."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best


def _timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def padding_share(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    padded = sum(len(b) * lengths[b].max() for b in batches)
    return 1 - lengths.sum() / padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=Path, default=Path("data/prompts/movielens/smollm2-135m"))
    parser.add_argument("--base", type=Path, default=Path("models/base/smollm2-135m"))
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=TrainParams().batch_size)
    args = parser.parse_args()
    train = TrainParams(batch_size=args.batch_size)
    table = read_all(args.prompts / "train" / "hybrid")
    lengths = np.diff(table.column("input_ids").combine_chunks().offsets.to_numpy())
    grouped = length_grouped_order(lengths, train.batch_size, train.seed, 0)
    rng = np.random.default_rng(0)
    shuffled = np.array_split(rng.permutation(len(lengths)), len(grouped))
    lm, tokenizer = load_base(args.base)
    config = lm.config
    model = Llara(with_lora(lm, LoraParams()), seeded_behaviour(torch.randn(2000, 64), config.hidden_size, 0))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=train.lr)
    non_embedding = sum(p.numel() for n, p in lm.named_parameters() if "embed_tokens" not in n)
    tokens = seconds = model_flops = 0.0
    for step in range(args.steps + 1):  # the first step warms up and is not counted
        batch = collate(table, grouped[step], tokenizer.pad_token_id)
        began = time.perf_counter()
        loss = model.answer_loss(**batch, splice=True)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step:
            seconds += time.perf_counter() - began
            real = int(batch["attention_mask"].sum())
            width = batch["input_ids"].shape[1]
            attention = 2 * 2 * config.num_hidden_layers * width * config.hidden_size  # QK^T and AV, fwd
            tokens += real
            model_flops += real * (4 * non_embedding + 3 * attention)  # useful tokens only, not padding
    peak = matmul_peak()
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "parameters": sum(p.numel() for p in lm.parameters()),
        "tokens_per_s": tokens / seconds,
        "padding_share_length_grouped": padding_share(lengths, grouped),
        "padding_share_random_batches": padding_share(lengths, shuffled),
        "model_tflops": model_flops / seconds / 1e12,
        "matmul_peak_tflops": peak / 1e12,
        "utilisation": model_flops / seconds / peak,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
