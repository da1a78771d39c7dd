"""What every bench shares: the machine's description, per-contender subprocesses with their
peak RSS and CPU share, and tables with ratios.

Each contender runs in its own child process (`python -m bench.<script> --child SPEC`), so
its peak RSS is its own: a psutil sampler in the child records the process's resident set
every 5 ms while the contender loads its model and runs (model included). The child also
reports its CPU share: process CPU seconds / (wall seconds x torch threads) over the timed
sections; well under 100% means other processes on the machine took CPU from it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from bench.data import REPO

MIB = 1024 * 1024


# --------------------------------------------------------------------------- the machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model, cores, library versions, bf16 support, torch threads, load average."""
    import sentence_transformers
    import torch
    import transformers

    from core.models.loading import configure_torch_threads
    from core.models.precision import cpu_supports_bf16

    threads = configure_torch_threads()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cpus": psutil.cpu_count(logical=True),
        "usable_cpus": usable,
        "torch_threads": threads,
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "bf16": cpu_supports_bf16(),
        "amx": bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def describe_machine(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['physical_cores']} cores ({info['usable_cpus']} usable, "
        f"torch threads {info['torch_threads']}), {info['memory_gib']} GiB; torch "
        f"{info['torch']} ({info['cpu_capability']}), transformers {info['transformers']}, "
        f"sentence-transformers {info['sentence_transformers']}; bf16 "
        f"{'yes' if info['bf16'] else 'no'}{' (AMX)' if info['amx'] else ''}; "
        f"load average at start {info['load_average_1m']}"
    )


# --------------------------------------------------------------------------- in the child


class PeakRss:
    """Samples this process's RSS (psutil) every `interval` seconds; .peak is the highest."""

    def __init__(self, interval: float = 0.005) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


class CpuShare:
    """Wall and CPU seconds of the timed sections of a child process."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    @contextmanager
    def timed(self):
        process = psutil.Process()
        before = process.cpu_times()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - started
            after = process.cpu_times()
            self.cpu += (after.user - before.user) + (after.system - before.system)

    def share(self, threads: int) -> float:
        return self.cpu / (self.wall * threads) if self.wall > 0 else 0.0


def child_main(run: Callable[[dict], dict]) -> None:
    """Entry of a child: `--child SPEC_JSON OUT_JSON`; runs `run(spec)` and writes its result."""
    spec_path, out_path = sys.argv[sys.argv.index("--child") + 1 : sys.argv.index("--child") + 3]
    spec = json.loads(Path(spec_path).read_text())
    with PeakRss() as rss:
        result = run(spec)
    result["peak_rss_mib"] = rss.peak / MIB
    Path(out_path).write_text(json.dumps(result))


# --------------------------------------------------------------------------- in the parent


def run_child(module: str, spec: dict, *, label: str, timeout: float | None = None) -> dict:
    """Run `python -m module --child spec out` and return its result dict."""
    with tempfile.TemporaryDirectory(prefix="sift-bench-") as tmp:
        spec_path, out_path = Path(tmp, "spec.json"), Path(tmp, "out.json")
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        started = time.perf_counter()
        print(f"  running {label} ...", file=sys.stderr, flush=True)
        completed = subprocess.run(
            [sys.executable, "-m", module, "--child", str(spec_path), str(out_path)],
            cwd=REPO,
            env=env,
            timeout=timeout,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"contender {label} failed (exit {completed.returncode}):\n"
                + completed.stdout[-4000:]
            )
        result = json.loads(out_path.read_text())
        print(
            f"  {label} done in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        return result


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            if value == 0:
                return "0"
            if abs(value) >= 100:
                return f"{value:,.0f}"
            if abs(value) >= 1:
                return f"{value:.2f}"
            return f"{value:.3g}"
        return str(value)

    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(payload, indent=2, default=str))
        print(f"results written to {path}", file=sys.stderr)
