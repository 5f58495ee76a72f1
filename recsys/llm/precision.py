"""How the model computes: bf16 autocast where the hardware makes it fast (else fp32), and which attention.

`auto` picks bf16 on a GPU that supports it, and on a CPU with AMX tiles (Intel Sapphire Rapids
and later), where oneDNN's bf16 matmuls measured 3-4x the fp32 ones (BENCHMARKS.md); a CPU
without AMX stays in fp32, where bf16 would only add casts. Trainable weights stay fp32 either
way (autocast casts per op), so AdamW updates full-precision LoRA and projector weights.
"""

from __future__ import annotations

import os

import torch

NO_AMX = "RECSYS_NO_AMX"  # set to 1: `auto` treats this CPU as one without AMX (fp32), as most machines run


def cpu_has_amx() -> bool:
    """AMX tiles, unless $RECSYS_NO_AMX=1 asks for what a CPU without them computes (to measure or reproduce the
    fp32 runs of AVX2-only machines without changing a param)."""
    if os.environ.get(NO_AMX) == "1":
        return False
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe and probe())


def attention_implementation(device: torch.device) -> str:
    """sdpa on a GPU (transformers' default); eager on a CPU, where it measured 22% faster under bf16
    autocast for SmolLM2 training (598 vs 491 tokens/s, BENCHMARKS.md) at about 1 GiB more memory."""
    return "eager" if device.type == "cpu" else "sdpa"


def weights_dtype(setting: str, device: torch.device) -> torch.dtype:
    """The frozen base's dtype (llm.dtype): bf16 where asked or on a GPU that supports it, else fp32.

    On this project's AMX CPU, bf16 weights trained slower than fp32 weights under bf16 autocast
    (457 vs 589 tokens/s: every LoRA input is cast back to fp32), so `auto` keeps fp32 there.
    """
    if setting == "bf16" or (setting == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float32


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 where asked, or where `auto` finds hardware that runs it fast; None means fp32."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu" and cpu_has_amx():
            return torch.bfloat16
    return None
