"""The machine a benchmark's seconds belong to, named one way in every bench script: processor, CPU count, OS and
the precision `auto` computes in there (fp32 where a CPU has no AMX tiles), which a wall time or a small HR@1
difference can reflect."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def processor_name() -> str:
    """/proc/cpuinfo's `model name` (lscpu's Model name), else what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def machine() -> str:
    """'<processor or GPU>, <n> CPUs, <OS>, <fp32 | bf16 autocast>'."""
    import torch

    from recsys.llm.precision import autocast_dtype

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    processor = torch.cuda.get_device_name(device) if device.type == "cuda" else processor_name()
    precision = "bf16 autocast" if autocast_dtype("auto", device) else "fp32"
    return f"{processor}, {os.cpu_count()} CPUs, {platform.system()}, {precision}"
