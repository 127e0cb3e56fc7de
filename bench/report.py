"""The benchmark's report: the tables printed and written to bench/results/, and the targets."""
import math
import os
import statistics
import sys
from pathlib import Path

from bench.harness import explain, render_sql

TARGET_MS = 40.0
TARGET_RATIO = 5.0
TARGET_STATEMENTS = 10
TARGET_CSV_RATIO = 3.0
TARGET_CSV_MB = 150.0


def fmt_ms(v):
    return f"{v:8.1f}" if v is not None else "       -"


def table(headers, rows, align=None) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    align = align or ["<"] + [">"] * (len(headers) - 1)

    def line(cells):
        return "| " + " | ".join(f"{str(c):{a}{w}}" for c, a, w in zip(cells, align, widths)) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == ">" else ("-" * (w + 2))
                         for a, w in zip(align, widths)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def report(args, info, facts, results, csv, runs, own_schema=None) -> tuple[str, list[tuple[str, bool, str]]]:
    lines = []
    target_name = f"{info['dialect']}, {info['customers']:,} customers"
    lines.append(f"## {target_name}\n")
    command = os.environ.get("BENCH_COMMAND", " ".join(sys.argv[1:]))
    lines.append(f"Command: `.venv/bin/python bench/run.py {command}`  ")
    lines.append(f"Runs: 1 warm-up + {runs} timed per request (Flask test client, in process); "
                 f"p90 = nearest rank. Times in ms; 'DB ms' is the time inside cursor.execute "
                 f"(median over the runs), the rest is Python (FAB, Jinja, marshmallow).  ")
    lines.append(f"Machine: {os.cpu_count()} CPUs, load average {info.get('load_before', '?')} before / "
                 f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after; app at {info.get('git', '?')}.  ")
    if info.get("load_seconds") is not None:
        lines.append(f"Load: {info['load_seconds']:.1f} s (generate) + {info.get('vacuum_seconds', 0):.1f} s "
                     f"(VACUUM ANALYZE).  ")
    elif info.get("earlier_load"):
        e = info["earlier_load"]
        lines.append(f"Load: reused the database loaded at {e['at']} in {e['load_seconds']:.1f} s (generate) + "
                     f"{e['vacuum_seconds']:.1f} s (VACUUM ANALYZE).  ")
    else:
        lines.append("Load: reused the existing database.  ")
    if info.get("migrated") and info["migrated"][0] is not None:
        lines.append(f"Migrated the reused database {info['migrated'][0]} -> {info['migrated'][1]} "
                     f"before timing (then VACUUM ANALYZE).  ")
    lines.append(f"Rows: {info['customers']:,} customers, {facts['visible']:,} not archived (the list's default); "
                 f"record count shown: ours {facts['ours_count']}, stock {facts['stock_count']}; "
                 f"last page: ours {facts['ours_last']}, stock {facts['stock_last']}.  ")
    lines.append(f"Filters used: ours `_flt_{facts['ours_contains_index']}_surname` (Contains), "
                 f"`_flt_{facts['ours_tag_index']}_tags` (Has tag); stock "
                 f"`_flt_{facts['stock_contains_index']}_surname` (Contains), "
                 f"`_flt_{facts['stock_tag_index']}_tags` (Relation); tag {facts['tag_name']!r} "
                 f"(id {facts['tag_id']}); starts with: ours `_flt_{facts['ours_startswith_index']}_surname`, "
                 f"stock `_flt_{facts['stock_startswith_index']}_surname`.  ")
    rest = facts.get("rest_count") or {}
    lines.append(f"REST count (customers with a tag): `count` {rest.get('count')}"
                 + (f", beside it {rest['other']}" if rest.get("other") else ", nothing beside it says whether it is "
                    "an estimate") + f"; audit entries: {info.get('audit_rows', 0):,}.\n")

    rows = []
    verdicts = []
    for case, ours, stock, ok in results:
        ratio = (stock.median_ms / ours.median_ms) if stock else None
        rows.append([case.label, fmt_ms(ours.median_ms), fmt_ms(ours.p90_ms), fmt_ms(ours.db_ms),
                     len(ours.statements),
                     fmt_ms(stock.median_ms if stock else None), fmt_ms(stock.p90_ms if stock else None),
                     fmt_ms(stock.db_ms if stock else None), len(stock.statements) if stock else "-",
                     f"{ratio:.1f}x" if ratio else "-", ok])
    lines.append(table(["request", "ours med", "ours p90", "ours DB ms", "ours SQL", "stock med",
                        "stock p90", "stock DB ms", "stock SQL", "stock/ours", "rows check"], rows))
    lines.append("")

    # targets
    slow = [f"{c.label} ({o.median_ms:.0f})" for c, o, s, ok in results
            if o.median_ms >= TARGET_MS and "floor" not in c.kinds]
    floor = [o.median_ms for c, o, s, ok in results if "floor" in c.kinds]
    floor_note = f"; an empty list page alone takes {floor[0]:.0f} ms" if floor else ""
    verdicts.append((f"every list page, deep page, search, filter and REST call < {TARGET_MS:.0f} ms median",
                     not slow, ("slow (ms): " + ", ".join(slow) if slow else "all under") + floor_note))
    weak = [f"{c.label} ({s.median_ms / o.median_ms:.1f}x)" for c, o, s, ok in results
            if s and ("deep" in c.kinds or "search" in c.kinds) and s.median_ms / o.median_ms < TARGET_RATIO]
    compared = [c for c, o, s, ok in results if s and ("deep" in c.kinds or "search" in c.kinds)]
    if compared:
        verdicts.append((f">= {TARGET_RATIO:.0f}x faster than stock FAB on deep pages and searches (stock on our tables, with our indexes)",
                         not weak, "short: " + ", ".join(weak) if weak else
                         ", ".join(f"{c.label} {s.median_ms / o.median_ms:.0f}x" for c, o, s, ok in results
                                   if c in compared)))
    if own_schema:
        lines.append("Searches against stock FAB as on its own schema: the same requests, on connections that "
                     "cannot use the trigram GIN indexes of migration 0002 (FAB creates none; no other index "
                     "serves ILIKE '%...%'). Ours as in the table above.\n")
        rows = []
        for c, o, s, ok in results:
            if c.label in own_schema:
                t = own_schema[c.label]
                rows.append([c.label, fmt_ms(o.median_ms), fmt_ms(t.median_ms), fmt_ms(t.p90_ms), fmt_ms(t.db_ms),
                             f"{t.median_ms / o.median_ms:.1f}x"])
        lines.append(table(["request", "ours med", "stock med", "stock p90", "stock DB ms", "stock/ours"], rows))
        lines.append("")
        short = [f"{label} ({t.median_ms / o.median_ms:.1f}x)" for c, o, s, ok in results
                 for label, t in own_schema.items() if c.label == label and t.median_ms / o.median_ms < TARGET_RATIO]
        verdicts.append((f">= {TARGET_RATIO:.0f}x faster than stock FAB on searches, stock as on its own schema",
                         not short, "short: " + ", ".join(short) if short else
                         ", ".join(f"{c.label} {own_schema[c.label].median_ms / o.median_ms:.0f}x"
                                   for c, o, s, ok in results if c.label in own_schema)))
    many = [f"{c.label} ({len(o.statements)})" for c, o, s, ok in results
            if "list" in c.kinds and len(o.statements) > TARGET_STATEMENTS]
    verdicts.append((f"<= {TARGET_STATEMENTS} SQL statements per list page", not many,
                     "over: " + ", ".join(many) if many else
                     "max " + str(max((len(o.statements) for c, o, s, ok in results if "list" in c.kinds), default=0))))
    wrong = [f"{c.label}: {ok}" for c, o, s, ok in results if ok not in ("ok", "-")]
    verdicts.append(("our pages return the right rows (checked against plain SQL)", not wrong,
                     "; ".join(wrong) if wrong else "all match"))

    if csv is not None:
        lines.append("CSV export (all rows, sorted by name; each run a fresh process streaming "
                     "/customers/export.csv through the test client):\n")
        if csv.get("error"):
            lines.append("```\n" + csv["error"] + "\n```")
            verdicts.append(("CSV export", False, "failed"))
        else:
            secs = [r["seconds"] for r in csv["runs"]]
            growth = max(r["growth_kb"] for r in csv["runs"]) / 1024
            peak = max(r["peak_kb"] for r in csv["runs"]) / 1024
            med = statistics.median(secs)
            p90 = sorted(secs)[max(math.ceil(0.9 * len(secs)) - 1, 0)]
            r0 = csv["runs"][0]
            crow = [["app export", f"{med:.2f}", f"{p90:.2f}", f"{r0['rows']:,}", f"{r0['bytes'] / 1e6:.0f}",
                     f"{growth:.1f}", f"{peak:.0f}"]]
            for b in csv["baselines"]:
                if b["times"]:
                    crow.append([b["name"], f"{statistics.median(b['times']):.2f}",
                                 f"{sorted(b['times'])[max(math.ceil(0.9 * len(b['times'])) - 1, 0)]:.2f}",
                                 "", "", "", ""])
            lines.append(table(["", "median s", "p90 s", "rows", "MB", "RSS growth MB", "peak RSS MB"], crow))
            lines.append("")
            for k, b in enumerate(csv["baselines"]):
                if b["error"]:
                    lines.append(f"{b['name']} failed:\n```\n{b['error']}\n```\n")
                    continue
                ratio = med / statistics.median(b["times"])
                lines.append(f"export / {b['name']} = {ratio:.2f}x  ")
                # The target is judged against the plain SELECT (the last baseline).
                if k == len(csv["baselines"]) - 1:
                    verdicts.append((f"CSV within {TARGET_CSV_RATIO:.0f}x of {b['name']}",
                                     ratio <= TARGET_CSV_RATIO,
                                     f"{ratio:.2f}x ({med:.2f} s vs {statistics.median(b['times']):.2f} s)"))
            lines.append("")
            verdicts.append((f"CSV peak memory < {TARGET_CSV_MB:.0f} MB (RSS growth while streaming)",
                             growth < TARGET_CSV_MB, f"+{growth:.0f} MB (process peak {peak:.0f} MB)"))
            if r0["rows"] != info["customers"]:
                verdicts.append(("CSV holds every row", False, f"{r0['rows']:,} of {info['customers']:,}"))

    lines.append("Targets:\n")
    lines.append(table(["target", "met", "detail"],
                       [[name, "MET" if ok else "NOT MET", detail] for name, ok, detail in verdicts],
                       align=["<", "<", "<"]))
    lines.append("")
    return "\n".join(lines), verdicts


def write_results(out_dir: Path, stem: str, text: str, results, csv, explains) -> None:
    """<stem>.md (the tables), <stem>-sql.txt (every statement of each request's last timed run),
    <stem>-explain.txt (the plans of the slow statements)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.md").write_text(text + "\n")
    with open(out_dir / f"{stem}-sql.txt", "w") as f:
        f.write(f"# SQL statements per request, {stem} (last timed run; seconds, statement)\n")
        for case, ours, stock, ok in results:
            for side, t in (("ours", ours), ("stock", stock)):
                if t is None:
                    continue
                f.write(f"\n## {case.label} [{side}] {t.median_ms:.1f} ms median, "
                        f"{len(t.statements)} statements\n")
                for s_sql, params, secs in t.statements:
                    f.write(f"{secs * 1000:8.2f} ms  {render_sql(s_sql, params)[:2000]}\n")
        if csv and csv.get("sql") is not None:
            f.write("\n## CSV export statement (also run by the first baseline)\n" + csv["sql"] + "\n")
            f.write("\n## CSV plain baseline statement\n" + csv["plain_sql"] + "\n")
    if explains:
        with open(out_dir / f"{stem}-explain.txt", "w") as f:
            for label, side, med, plans in explains:
                f.write(f"\n{'=' * 100}\n{label} [{side}] {med:.1f} ms median\n")
                for secs, s_sql, plan in plans:
                    f.write(f"\n-- {secs * 1000:.1f} ms in the timed run\n{s_sql}\n\n{plan}\n")
        print(f"EXPLAIN of slow statements: {out_dir / (stem + '-explain.txt')}")
    print(f"written: {out_dir / (stem + '.md')}, {out_dir / (stem + '-sql.txt')}")


def slow_plans(app, results, everything: bool) -> list:
    """EXPLAIN ANALYZE of the slowest statements of our slow requests (of every request with
    `everything`, stock's too)."""
    explains = []
    for case, ours, stock, ok in results:
        if everything or ours.median_ms >= TARGET_MS:
            explains.append((case.label, "ours", ours.median_ms, explain(app, ours.statements)))
        if everything and stock is not None:
            explains.append((case.label, "stock", stock.median_ms, explain(app, stock.statements, top=1)))
    return explains
