"""Same digits on any x86-64 CPU with AVX2 of one vendor: the instruction sets and thread count the numbers
depend on, and a record of the machine a result came from.

Why. torch picks its CPU kernels by the instruction set it finds at run time (AVX-512 on one machine, AVX2
on another), and oneDNN (convolutions) and MKL (matrix products) pick their own code paths; each path adds
in another order, so one run trained to other digits on another machine (the first epoch's loss: 4.53879
on AVX-512, 4.54020 with torch alone forced to AVX2). Capping all three at AVX2 makes an AVX-512 machine
compute exactly what an AVX2 machine of its vendor computes (tests/test_golden.py). Across vendors the caps
are not enough: MKL runs its AVX2 branch on Intel CPUs only and its AUTO branch on others, so an Intel Xeon
and an AMD EPYC train to different digits (the clips are the same). On an AVX-512 machine the cap costs
training speed, all of it oneDNN's (its AVX2 convolutions are slower); the pipeline's channels-last layout
wins most of it back (``benchmarks/numerics.py``). The thread count is part of the result too (1, 2, 3 and 4
threads train four different sets of weights), so the pipeline fixes it (``threads`` in params.yaml).
The clips depend on no setting here: the numba kernels are compiled without reassociation (see
:data:`fractalvid.clips.kernels.FASTMATH`), so they have the same bytes on every CPU with FMA.

:func:`pin_instruction_sets` must run before torch's first operation: ``import fractalvid`` runs it, as
the first thing the package does. A variable already set in the environment is left as it is, and
``FRACTALVID_NUMERICS=native`` leaves every library its own choice and lets the kernels reassociate sums
(faster, other digits on other machines; its compiled kernels are cached apart).
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

# the caps that give an AVX-512 machine the digits of an AVX2 one of its vendor (without AVX2 they cap nothing)
PINNED_ISA = {"ATEN_CPU_CAPABILITY": "avx2",   # torch's own kernels (ATen's dispatch)
              "ONEDNN_MAX_CPU_ISA": "AVX2",    # oneDNN: convolutions, batch norm
              "MKL_CBWR": "AVX2"}              # MKL's conditional numerical reproducibility: matrix products
MODES = ("pinned", "native")
MODE_VARIABLE = "FRACTALVID_NUMERICS"
PACKAGES = ("torch", "torchvision", "numpy", "numba", "llvmlite", "av")


def mode() -> str:
    """``pinned`` (the default) or ``native``, from the environment variable FRACTALVID_NUMERICS."""
    value = os.environ.get(MODE_VARIABLE, "pinned")
    if value not in MODES:
        raise ValueError(f"{MODE_VARIABLE}={value!r} is not accepted: expected one of {MODES}")
    return value


def pin_instruction_sets() -> dict[str, str]:
    """Cap torch, oneDNN and MKL at AVX2 unless the mode is native; returns the caps now in force.

    Each library reads its variable once, at its first operation: later changes do nothing."""
    if mode() == "pinned":
        for name, value in PINNED_ISA.items():
            os.environ.setdefault(name, value)
    else:
        # the kernels are compiled with other flags (fractalvid.clips.kernels.FASTMATH), and numba's cache tells
        # compiled code apart by source file and CPU, not by flags: a cache of their own keeps either mode from
        # loading the other's code. numba reads the setting when a kernel is first compiled or loaded.
        from numba.core import config as numba_config  # here: only the native mode needs numba this early

        base = os.environ.get("NUMBA_CACHE_DIR") or tempfile.gettempdir()
        numba_config.CACHE_DIR = str(Path(base) / "fractalvid-native")
    return {name: os.environ[name] for name in PINNED_ISA if name in os.environ}


def set_threads(threads: int | None) -> None:
    """Use ``threads`` threads for torch's operations (None: torch's own choice, the physical cores)."""
    if threads is not None:
        import torch  # here, not at the top: importing this module must not load torch (see the docstring)
        torch.set_num_threads(threads)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_isa() -> str:
    """The widest vector instruction set the CPU offers, as far as the digits go: avx512, avx2 or other."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    flags = set(flags.split(":", 1)[1].split())
    return "avx512" if "avx512f" in flags else "avx2" if {"avx2", "fma"} <= flags else "other"


def _commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def machine() -> dict:
    """What a result's digits depend on: CPU, the kernels torch dispatches to, threads, library versions,
    the numerics mode and its caps, and the project's commit (None outside a git checkout)."""
    import torch  # here, not at the top: see set_threads

    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": _cpu_model(),
        "cpu_isa": _cpu_isa(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "numerics": mode(),
        "caps": {name: os.environ.get(name) for name in PINNED_ISA},
        "platform": f"{sys.platform}-{platform.machine()}",
        "versions": versions,
        "commit": _commit(),
    }
