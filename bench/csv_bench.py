"""The CSV export's benchmark: the export streamed in a fresh process (time, RSS), beside
`psql \\copy` (or `sqlite3 -csv`) of the export's own statement and of a plain SELECT."""
import json
import resource
import shutil
import subprocess
import sys
import threading
import time

from bench.harness import ADMIN, ROOT, html_login, libpq_url, make_app, sqlalchemy_url


def rss_kb(field_name: str = "VmRSS") -> int:
    """Resident memory (VmRSS) or its peak since the last reset (VmHWM), in kB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak that follows is the export's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def csv_worker(args) -> None:
    """Child process: log in, stream the export once, print JSON with time and memory."""
    import gc
    app = make_app(sqlalchemy_url(args.database))
    client = html_login(app, ADMIN)
    # Warm the code path (imports, first COPY) with an export that matches no row, then measure.
    from app.views.customers import CustomerView
    from app.views.filters import FilterValueEqual
    from bench.cases import filter_index
    id_eq = filter_index(app, CustomerView, "id", (FilterValueEqual,))
    warm = client.get(f"/customers/export.csv?_flt_{id_eq}_id=0", buffered=False)
    for _ in warm.response:
        pass
    warm.close()
    gc.collect()
    before = rss_kb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reset = reset_peak_rss()
    sampled = [before]
    stop = threading.Event()

    def sample():  # a second opinion on the peak, in case VmHWM cannot be reset
        while not stop.wait(0.01):
            sampled.append(rss_kb())
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    r = client.get(args.csv_worker, buffered=False)
    nbytes = lines = chunks = 0
    for chunk in r.response:
        nbytes += len(chunk)
        lines += chunk.count(b"\n")
        chunks += 1
    r.close()
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    peak = max(rss_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               max(sampled))
    print(json.dumps(dict(status=r.status_code, seconds=seconds, bytes=nbytes, rows=lines - 1,
                          chunks=chunks, rss_before_kb=before, peak_before_kb=peak_before,
                          peak_reset=reset, sampled_peak_kb=max(sampled),
                          peak_kb=peak, growth_kb=peak - before)))


def csv_url(app, facts) -> str:
    # A status "not equal" filter on a value nobody has turns off the "hide archived" default,
    # so the export holds every row.
    return (f"/customers/export.csv?_flt_{facts['ours_status_ne_index']}_status=none"
            "&_oc_CustomerView=name&_od_CustomerView=asc")


def export_sql(app, url: str) -> str | None:
    """The statement the export runs for `url`, with literal values (for psql / sqlite3).

    Taken from the app itself: one export request as the admin with csv_export.stream_csv
    replaced by a recorder, so this follows however the view builds its statement.
    """
    from sqlalchemy.sql import Executable

    from app.extensions import db
    from app.services import csv_export
    seen = []
    real = csv_export.stream_csv

    def record(*args, **kwargs):
        seen.extend(a for a in list(args) + list(kwargs.values()) if isinstance(a, Executable))
        return iter([b""])
    csv_export.stream_csv = record
    try:
        client = html_login(app, ADMIN)
        client.get(url).get_data()
    finally:
        csv_export.stream_csv = real
    if not seen:
        return None
    with app.app_context():
        return str(seen[0].compile(dialect=db.engine.dialect,
                                   compile_kwargs={"literal_binds": True, "render_postcompile": True}))


def plain_export_sql(app) -> str:
    """The export's columns in a plain SELECT: reseller and the tags (aggregated once, GROUP BY)
    joined, in the same order, without the formula escaping. What a hand-written export costs."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Customer, Reseller, Tag, customer_tag
    tags = (select(customer_tag.c.customer_id, func.aggregate_strings(Tag.name, "; ").label("tags"))
            .join(Tag, Tag.id == customer_tag.c.tag_id)
            .group_by(customer_tag.c.customer_id).subquery("t"))
    c = Customer
    stmt = (select(c.id, c.customer_type, c.title, c.first_name, c.surname, c.company_name, c.name,
                   c.email, c.phone, c.mobile, c.joined_on, c.balance, c.currency, c.status, tags.c.tags,
                   Reseller.name, c.advertising_source, c.creditor_days, c.building_type,
                   c.third_party_reference)
            .select_from(c)
            .outerjoin(Reseller, Reseller.id == c.reseller_id)
            .outerjoin(tags, tags.c.customer_id == c.id)
            .order_by(c.sort_name, c.id))
    with app.app_context():
        return str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))


def baseline_command(args, dialect: str, sql: str):
    if dialect == "postgresql" and shutil.which("psql"):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", libpq_url(args.database), "-c",
                "\\copy (" + " ".join(sql.split()) + ") TO '/dev/null' WITH (FORMAT csv)"], "psql \\copy"
    if dialect == "sqlite" and shutil.which("sqlite3"):
        from sqlalchemy.engine import make_url
        return ["sqlite3", "-csv", make_url(sqlalchemy_url(args.database)).database, sql], "sqlite3 -csv"
    return None, None


def run_csv(app, args, facts, runs) -> dict:
    """Export, then the baselines, interleaved run by run (the machine's load drifts)."""
    url = csv_url(app, facts)
    out = {"url": url, "runs": [], "baselines": []}
    worker = [sys.executable, str(ROOT / "bench" / "run.py"), "--database", args.database, "--csv-worker", url]
    out["sql"] = export_sql(app, url)
    out["plain_sql"] = plain_export_sql(app)
    for label, sql in (("the export's own SQL", out["sql"]), ("plain SELECT of the same columns", out["plain_sql"])):
        if sql is None:
            print(f"    (could not capture {label}; that baseline is skipped)")
            continue
        cmd, tool = baseline_command(args, facts["dialect"], sql)
        if cmd:
            out["baselines"].append({"name": f"{tool}, {label}", "cmd": cmd, "times": [], "error": None})
    for i in range(runs + 1):
        tag = " (warm-up)" if i == 0 else ""
        p = subprocess.run(worker, capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            out["error"] = p.stderr[-2000:]
            return out
        res = json.loads(p.stdout.strip().splitlines()[-1])
        if i > 0:
            out["runs"].append(res)
        print(f"    export run {i}{tag}: {res['seconds']:.2f} s, {res['rows']:,} rows, "
              f"{res['bytes'] / 1e6:.0f} MB, RSS +{res['growth_kb'] / 1024:.1f} MB "
              f"(peak {res['peak_kb'] / 1024:.0f} MB)", flush=True)
        for b in out["baselines"]:
            if b["error"]:
                continue
            t0 = time.perf_counter()
            p = subprocess.run(b["cmd"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            dt = time.perf_counter() - t0
            if p.returncode != 0:
                b["error"] = p.stderr[-2000:]
                continue
            if i > 0:
                b["times"].append(dt)
            print(f"    {b['name']} run {i}{tag}: {dt:.2f} s", flush=True)
    return out
