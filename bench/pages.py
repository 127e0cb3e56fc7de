"""A few pages, this checkout against an older one, alternating on one database: for "is it
unchanged?" questions that the full run's medians are too noisy to answer (they move 10-25%
between runs on a shared machine).

    git worktree add /tmp/before <rev>   # copy newer migrations into it if the database has them
    .venv/bin/python bench/pages.py --old /tmp/before \\
        --database postgresql://postgres@127.0.0.1:5432/bench_small \\
        /customers/list/ /audit/list/ "/customers/show/6?tab=changes"

A URL under /api/ is asked with the bench admin's bearer token. Each round times every page in the
old tree, then in this one (a fresh process each: its own app,
logged in as the bench admin, 20 warm-up requests, then --requests timed); the table gives the
median of the rounds' medians and new / old. The database must have been loaded by bench/run.py.
"""
import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMER = r"""
import os, statistics, sys, time
sys.path.insert(0, os.getcwd())
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 40)
from bench import harness
app = harness.make_app(harness.sqlalchemy_url(sys.argv[1]))
client = harness.html_login(app, harness.ADMIN)
bearer = harness.api_token(app, harness.ADMIN)  # for REST URLs (/api/...)
for url in sys.argv[3:]:
    headers = bearer if url.startswith("/api/") else {}
    for _ in range(20):
        response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(int(sys.argv[2])):
        start = time.perf_counter()
        client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
    print(url, statistics.median(times))
"""


def medians(tree: Path, database: str, requests: int, urls: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", TIMER, database, str(requests), *urls], cwd=tree,
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if out.returncode:
        sys.exit(f"{tree}: {out.stderr[-2000:]}")
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in out.stdout.splitlines() if line}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("urls", nargs="+")
    p.add_argument("--old", required=True, type=Path, help="the older checkout (a git worktree)")
    p.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_small")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--requests", type=int, default=60)
    args = p.parse_args()
    old: dict[str, list[float]] = {u: [] for u in args.urls}
    new: dict[str, list[float]] = {u: [] for u in args.urls}
    for _ in range(args.rounds):
        for tree, into in ((args.old, old), (HERE.parent, new)):
            for url, ms in medians(tree, args.database, args.requests, args.urls).items():
                into[url].append(ms)
    print("| page | old ms | new ms | new / old |\n|---|---:|---:|---:|")
    for url in args.urls:
        o, n = statistics.median(old[url]), statistics.median(new[url])
        print(f"| `{url}` | {o:.1f} | {n:.1f} | {n / o:.2f} |")


if __name__ == "__main__":
    main()
