"""Ray engine vs the local engine: documents per second, end to end, on this machine.

Inputs: N texts (half banking77 short, half BBC news long, shuffled) written as 4 CSV files
into a temporary folder (the data sets themselves are read from ../shared/data, never copied
into the repo). Technique: embeddings (packaged MiniLM, fp32). Every contender is the real
command line in its own process, timed from start to exit (model loading included):

  local            `ingest` + `classify` (the local engine, torch on all cores)
  ray 2x1          `classify --engine ray`: a local Ray instance, 2 actors x 1 CPU
  ray 1x2          the same with 1 actor x 2 CPUs (torch uses both cores in one actor)
  ray 2x1 +import  ray 2x1 followed by `import-predictions` into a project
  ray rerun        ray 2x1 again into the same output folder (everything already done)
  local again      the local engine again, last: other load on the machine drifts, and the
                   faster of the two local runs is the baseline of the ratios

    python -m bench.ray_vs_local                     # 2,000 texts
    python -m bench.ray_vs_local --n 400 --write-docs docs/scale.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import describe_machine, machine_info, markdown_table, write_json
from bench.data import REPO, long_texts, mixed, short_texts

N_FILES = 4
DOCS_MARKER_START = "<!-- bench:ray_vs_local:start -->"
DOCS_MARKER_END = "<!-- bench:ray_vs_local:end -->"

TAXONOMY_YAML = """
labels:
  - {name: business, description: 'Business, companies, markets and the economy'}
  - {name: entertainment, description: 'Films, music, television and celebrities'}
  - {name: politics, description: 'Government, elections, parties and politicians'}
  - {name: sport, description: 'Sport, matches, players and competitions'}
  - {name: tech, description: 'Technology, computers, the internet and gadgets'}
  - {name: banking, description: 'Bank cards, transfers, payments and account problems'}
"""


def write_inputs(folder: Path, n: int, data: str | None) -> None:
    texts = [
        example.text for example in mixed(short_texts(n // 2, data), long_texts(n - n // 2, data))
    ]
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-len(texts) // N_FILES)
    for index in range(N_FILES):
        with (folder / f"part{index}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text"])
            writer.writerows([text] for text in texts[index * per_file : (index + 1) * per_file])


def sift(tmp: Path, *args: str, env_extra: dict | None = None) -> float:
    """Run `python -m core --db tmp/sift.db ARGS`; -> wall seconds. Raises on failure."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(REPO),
        **(env_extra or {}),
    }
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "core", "--db", str(tmp / "sift.db"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"`python -m core {' '.join(args)}` failed (exit {completed.returncode}):\n"
            + completed.stdout[-3000:]
            + completed.stderr[-3000:]
        )
    return seconds


def compute_seconds(output: Path) -> float:
    """Seconds the actors spent inside predict(), summed over actors (from the manifest)."""
    manifest = json.loads((output / "_run.json").read_text())
    return sum(
        technique.get("seconds", 0.0)
        for entry in manifest["files"].values()
        for technique in entry["footer"]["techniques"].values()
    )


def local_compute_seconds(tmp: Path, project: str) -> float:
    sys.path.insert(0, str(REPO))
    from core.store import Store

    store = Store(tmp / "sift.db")
    runs = store.list_runs(store.get_project(project).id)
    return sum(run.seconds or 0.0 for run in runs if run.technique == "embeddings")


def run(n: int, data: str | None, ray_niceness: int) -> dict:
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="sift-ray-bench-") as name:
        tmp = Path(name)
        inputs = tmp / "inputs"
        write_inputs(inputs, n, data)
        taxonomy = tmp / "taxonomy.yaml"
        taxonomy.write_text(TAXONOMY_YAML, encoding="utf-8")

        def local(label: str, project: str) -> dict:
            print(f"  {label}: ingest + classify ...", file=sys.stderr, flush=True)
            ingest_s = sift(
                tmp, "ingest", project, str(inputs), "--create", "--taxonomy", str(taxonomy)
            )
            classify_s = sift(tmp, "classify", project, "-t", "embeddings", "-q")
            return {
                "wall_s": ingest_s + classify_s,
                "compute_s": local_compute_seconds(tmp, project),
                "note": f"ingest {ingest_s:.1f} s + classify {classify_s:.1f} s",
            }

        results["local"] = local("local", "local")

        def ray(label: str, output: Path, *extra: str) -> float:
            print(f"  {label} ...", file=sys.stderr, flush=True)
            return sift(
                tmp,
                "classify",
                "--engine",
                "ray",
                "--input",
                str(inputs),
                "--taxonomy",
                str(taxonomy),
                "-t",
                "embeddings",
                "--output",
                str(output),
                "-q",
                *extra,
                # Ray starts its workers at nice 15; the local engine runs at 0. Equal footing
                # unless --ray-niceness 15 asks for Ray's default.
                env_extra={"RAY_worker_niceness": str(ray_niceness)},
            )

        out_2x1 = tmp / "out-2x1"
        wall = ray("ray 2x1", out_2x1, "--num-actors", "2", "--num-cpus-per-actor", "1")
        results["ray 2x1"] = {
            "wall_s": wall,
            "compute_s": compute_seconds(out_2x1) / 2,
            "note": "2 actors x 1 CPU",
        }
        out_1x2 = tmp / "out-1x2"
        wall = ray("ray 1x2", out_1x2, "--num-actors", "1", "--num-cpus-per-actor", "2")
        results["ray 1x2"] = {
            "wall_s": wall,
            "compute_s": compute_seconds(out_1x2),
            "note": "1 actor x 2 CPUs",
        }
        print("  import-predictions ...", file=sys.stderr, flush=True)
        import_s = sift(tmp, "import-predictions", "imported", str(out_2x1), "--create", "-q")
        results["ray 2x1 +import"] = {
            "wall_s": results["ray 2x1"]["wall_s"] + import_s,
            "compute_s": results["ray 2x1"]["compute_s"],
            "note": f"import-predictions {import_s:.1f} s",
        }
        wall = ray("ray rerun", out_2x1, "--num-actors", "2", "--num-cpus-per-actor", "1")
        results["ray rerun"] = {
            "wall_s": wall,
            "compute_s": 0.0,
            "note": "all inputs done: skipped",
        }
        # Other load on a shared machine drifts during the bench: the local engine runs again
        # last, and the faster of its two runs is the baseline (conservative for Ray).
        results["local again"] = local("local again", "local-again")
    return results


def table(results: dict, n: int) -> str:
    local = min(results["local"]["wall_s"], results["local again"]["wall_s"])
    rows = []
    for label, row in results.items():
        wall = row["wall_s"]
        compute = row["compute_s"]
        rows.append(
            [
                label,
                wall,
                n / wall,
                local / wall,
                compute if compute else None,
                n / compute if compute else None,
                row["note"],
            ]
        )
    header = [
        "contender",
        "wall s",
        "docs/s (wall)",
        "speed vs best local",
        "compute s",
        "docs/s (compute)",
        "note",
    ]
    return markdown_table(header, rows)


def write_docs(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(DOCS_MARKER_START) + ".*?" + re.escape(DOCS_MARKER_END), re.S)
    block = f"{DOCS_MARKER_START}\n{section}\n{DOCS_MARKER_END}"
    if not pattern.search(text):
        raise SystemExit(f"{path} has no {DOCS_MARKER_START} ... {DOCS_MARKER_END} block")
    path.write_text(pattern.sub(lambda _: block, text), encoding="utf-8")
    print(f"results written into {path}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="texts (half short, half long)")
    parser.add_argument("--data", help="folder holding banking77/ and bbc_news/")
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.add_argument(
        "--ray-niceness", type=int, default=0, help="Ray workers' nice value (Ray's default: 15)"
    )
    parser.add_argument("--write-docs", metavar="MD", help="replace the results block in MD")
    args = parser.parse_args()

    info = machine_info()
    print(f"machine: {describe_machine(info)}", file=sys.stderr)
    started = time.perf_counter()
    results = run(args.n, args.data, args.ray_niceness)
    load_after = round(os.getloadavg()[0], 2)
    section = (
        f"{args.n:,} texts ({args.n // 2:,} banking77 + {args.n - args.n // 2:,} BBC news) in "
        f"{N_FILES} CSV files, embeddings (packaged MiniLM, fp32); wall = the whole command "
        "(start-up, parsing, model loading, writing); compute = local: the engine loop in the "
        "run log (predict + store writes); Ray: time inside `predict`, summed over actors / "
        f"actors. Ray workers at nice {args.ray_niceness} (Ray's default is 15).\n\n"
        f"Machine: {describe_machine(info)}; load average at the end {load_after}.\n\n"
        + table(results, args.n)
    )
    print(section)
    print(f"\nbench took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    write_json(args.json, {"machine": info, "n": args.n, "results": results})
    if args.write_docs:
        write_docs(Path(args.write_docs), section)


if __name__ == "__main__":
    main()
