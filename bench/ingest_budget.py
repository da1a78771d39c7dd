"""Ingest budget: every upload file <= 50 MB is imported or refused within 10 s and 1.5 GB.

    python -m bench.ingest_budget                 # full size (~2 GB of files written, a few min)
    python -m bench.ingest_budget --scale 0.01    # small, same cases (see bench/ingest_corpus.py)
    python -m bench.ingest_budget --json out.json --keep DIR

Each file of the corpus goes through the real command line in its own process,

    python -m core --db <fresh db> ingest budget FILE --create --split-paragraphs

timed from start to exit (Python start-up and imports included) with the child's own peak
RSS from os.wait4 (ru_maxrss of that one process). A file passes when it is imported (exit 0)
or refused (exit 1, a `REJECTED <file>: <reason>` line naming the limit), as its case
expects, within the budget. Then one more call uploads the whole corpus at once: every good
file must be imported, every bad one refused, in the same call (exit 1).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import cpu_model, markdown_table, verdict, write_json
from bench.ingest_corpus import MB, Case, corpus

REPO = Path(__file__).resolve().parent.parent
BUDGET_S = 10.0
BUDGET_RSS_MB = 1536.0
KILL_AFTER_S = 120.0
CLI_FLAGS = ("--create", "--split-paragraphs")


@dataclass
class Result:
    case: str
    filename: str
    size_mb: float
    expect: str
    outcome: str  # "imported" | "refused" | "crashed (exit N)" | "killed"
    wall_s: float
    peak_rss_mb: float
    reason: str  # the refusal, or the import line
    passed: bool


def run_cli(
    args: list[str], *, timeout: float = KILL_AFTER_S
) -> tuple[int, str, str, float, float]:
    """-> (exit code, stdout, stderr, wall seconds, peak RSS MB) of `python -m core ARGS`."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        return _run(args, timeout, out, err)


def _run(args, timeout, out, err) -> tuple[int, str, str, float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "core", *args], cwd=REPO, stdout=out, stderr=err
    )
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            status = -9
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    process.returncode = status if status == -9 else os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    stdout = out.read().decode("utf-8", "replace")
    stderr = err.read().decode("utf-8", "replace")
    return process.returncode, stdout, stderr, wall, usage.ru_maxrss / 1024


def judge(case: Case, code: int, stdout: str, stderr: str) -> tuple[str, str, bool]:
    """-> (outcome, reason, as expected)."""
    rejected = [line for line in stderr.splitlines() if line.startswith("REJECTED ")]
    if code == 0 and "imported " in stdout:
        outcome, reason = "imported", stdout.strip().splitlines()[0]
    elif code == 1 and rejected:
        outcome, reason = "refused", rejected[0].removeprefix("REJECTED ")
    elif code == -9:
        outcome, reason = "killed", f"still running after {KILL_AFTER_S:.0f} s"
    else:
        outcome, reason = f"crashed (exit {code})", (stderr.strip().splitlines() or [""])[-1]
    expected = case.expect in (outcome, "either") and outcome in ("imported", "refused")
    if outcome == "refused" and case.reason and case.reason not in reason:
        expected = False
    if outcome == "refused" and not reason.startswith(case.filename):
        expected = False  # the refusal must name the file
    return outcome, reason, expected


def run_case(case: Case, folder: Path) -> Result:
    path = folder / case.filename
    if not path.exists():
        path.write_bytes(case.generate())
    db = folder / f"{path.stem}.db"
    for leftover in folder.glob(f"{path.stem}.db*"):
        leftover.unlink()
    code, stdout, stderr, wall, rss = run_cli(
        ["--db", str(db), "ingest", "budget", str(path), *CLI_FLAGS]
    )
    outcome, reason, expected = judge(case, code, stdout, stderr)
    within = wall <= BUDGET_S and rss <= BUDGET_RSS_MB
    return Result(
        case.name,
        case.filename,
        round(path.stat().st_size / MB, 2),
        case.expect,
        outcome,
        round(wall, 2),
        round(rss, 0),
        reason[:160],
        expected and within,
    )


def run_mixed(cases: list[Case], folder: Path) -> dict:
    """One upload of every file: the good ones are all imported, the bad ones all refused."""
    db = folder / "mixed.db"
    for leftover in folder.glob("mixed.db*"):
        leftover.unlink()
    paths = [str(folder / case.filename) for case in cases]
    code, stdout, stderr, wall, rss = run_cli(
        ["--db", str(db), "ingest", "budget", *paths, *CLI_FLAGS], timeout=60 * 30
    )
    imported = {line.split(":")[0].removeprefix("imported ") for line in stdout.splitlines()}
    imported = {Path(p).name for p in imported if p}
    refused = {
        line.removeprefix("REJECTED ").split(",")[0].split(":")[0]
        for line in stderr.splitlines()
        if line.startswith("REJECTED ")
    }
    good = {case.filename for case in cases if case.expect == "imported"}
    bad = {case.filename for case in cases if case.expect == "refused"}
    missing_good = sorted(good - imported)
    wrongly_imported = sorted(bad & imported)
    passed = code == 1 and not missing_good and not wrongly_imported
    return {
        "exit_code": code,
        "files": len(cases),
        "imported": sorted(imported),
        "refused": sorted(refused),
        "good_not_imported": missing_good,
        "bad_imported": wrongly_imported,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(rss, 0),
        "passed": passed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: full size (<= 50 MB)")
    parser.add_argument("--only", action="append", help="case name substring; repeat")
    parser.add_argument("--keep", metavar="DIR", help="write the corpus here and keep it")
    parser.add_argument("--no-mixed", action="store_true", help="skip the all-files upload")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    cases = [c for c in corpus(args.scale) if args.scale >= 1.0 or c.at_scale]
    if args.only:
        cases = [c for c in cases if any(part in c.name for part in args.only)]
    with tempfile.TemporaryDirectory(prefix="sift-ingest-budget-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"# Ingest budget: scale {args.scale}, budget {BUDGET_S:.0f} s and "
            f"{BUDGET_RSS_MB:,.0f} MB per file; {cpu_model()}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}\n",
            flush=True,
        )
        results = []
        for case in cases:
            result = run_case(case, folder)
            results.append(result)
            print(
                f"  {case.name}: {result.outcome} in {result.wall_s} s, "
                f"{result.peak_rss_mb:.0f} MB - {verdict(result.passed)}",
                file=sys.stderr,
                flush=True,
            )
        mixed = None if args.no_mixed else run_mixed(cases, folder)
    header = [
        "case",
        "file",
        "MB",
        "expected",
        "result",
        "wall s",
        "peak RSS MB",
        "budget",
        "what it said",
    ]
    rows = [
        [
            r.case,
            r.filename,
            r.size_mb,
            r.expect,
            r.outcome,
            r.wall_s,
            r.peak_rss_mb,
            verdict(r.passed),
            r.reason.replace("|", "/"),
        ]
        for r in results
    ]
    print(markdown_table(header, rows))
    failed = [r.case for r in results if not r.passed]
    print(
        f"\n{len(results) - len(failed)} of {len(results)} files within budget"
        + (f"; over budget or wrong: {', '.join(failed)}" if failed else "")
    )
    if mixed is not None:
        print(
            f"\nOne upload of all {mixed['files']} files: exit {mixed['exit_code']}, "
            f"{len(mixed['imported'])} imported, {len(mixed['refused'])} refused, "
            f"{mixed['wall_s']} s, peak RSS {mixed['peak_rss_mb']:.0f} MB; good files not "
            f"imported: {mixed['good_not_imported'] or 'none'}; bad files imported: "
            f"{mixed['bad_imported'] or 'none'} - {verdict(mixed['passed'])}"
        )
    write_json(
        args.json,
        {"scale": args.scale, "results": [asdict(r) for r in results], "mixed": mixed},
    )
    return 0 if not failed and (mixed is None or mixed["passed"]) else 1


if __name__ == "__main__":
    sys.exit(main())
