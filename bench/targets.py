#!/usr/bin/env python3
"""Usage: bench/targets.py RUN1 RUN2

Reads $OUT/RUN1-*.json and $OUT/RUN2-*.json (written by bench/targets.sh;
OUT as there, default ${TMPDIR:-/tmp}/uaio-targets) and
prints three Markdown tables comparing the uaio engines with their peers,
each cell "run1 / run2", then per run an absolute IOPS line per row for
kaio, io_uring and sync.
"""
import json
import os
import sys

DIR = os.environ.get("OUT") or os.path.join(os.environ.get("TMPDIR") or "/tmp", "uaio-targets")

# (row label, job file, mode in the JSON)
ROWS = [
    ("QD32 warm", "qd32", "buffered"),
    ("QD32 O_DIRECT", "qd32", "direct"),
    ("QD32 cold", "qd32", "cold"),
    ("QD1 warm", "qd1", "buffered"),
    ("QD1 O_DIRECT", "qd1", "direct"),
    ("QD1 cold", "qd1", "cold"),
    ("QD128 warm", "qd128", "buffered"),
    ("QD128 O_DIRECT", "qd128", "direct"),
    ("QD128 cold", "qd128", "cold"),
    ("QD64 batch 16 warm", "b16", "buffered"),
    ("QD64 batch 16 O_DIRECT", "b16", "direct"),
    ("QD64 batch 16 cold", "b16", "cold"),
    ("randwrite QD32 warm", "randwrite", "buffered"),
]
JOBS = ["qd32", "qd1", "qd128", "b16", "randwrite"]
P99_PEERS = ("kaio", "io_uring", "posix-aio")


def load_run(run):
    """{(job, mode): {engine: engine-dict}} for the engines that ran."""
    data = {}
    for job in JOBS:
        path = os.path.join(DIR, "%s-%s.json" % (run, job))
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print("warning: %s: %s" % (path, e), file=sys.stderr)
            continue
        for w in doc.get("workloads", []):
            if not w.get("ran", True):
                continue
            engines = {}
            for e in w.get("engines", []):
                if e.get("available", True):
                    engines[e["engine"]] = e
            data[(job, w.get("mode"))] = engines
            ue = engines.get("uaio")
            if ue and "threads executor" not in ue.get("description", ""):
                print("warning: %s %s: uaio is \"%s\", not the threads "
                      "executor" % (path, w.get("mode"), ue.get("description")),
                      file=sys.stderr)
    return data


def iops(e):
    v = e.get("iops") if e else None
    return v if v else None


def cpu(e):
    v = e.get("cpu", {}).get("ns_per_io") if e else None
    return v if v else None


def p99(e):
    v = e.get("lat_ns", {}).get("p99") if e else None
    return v if v else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def metric(run, row, engine, what):
    _, job, mode = row
    engs = run.get((job, mode), {})
    me = engs.get(engine)
    if what == "p99best":
        peers = [p99(engs.get(p)) for p in P99_PEERS]
        peers = [p for p in peers if p is not None]
        return ratio(p99(me), min(peers) if peers else None)
    if what == "cpu_io_uring":
        return ratio(cpu(me), cpu(engs.get("io_uring")))
    # what = "x PEER": IOPS ratio
    return ratio(iops(me), iops(engs.get(what)))


def fmt(v, digits):
    return "-" if v is None else "%.*f" % (digits, v)


def table(title, engine, cols, runs):
    print("**%s**" % title)
    print()
    print("| row | " + " | ".join(c[0] for c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for row in ROWS:
        cells = []
        for _, what, digits in cols:
            cells.append(" / ".join(fmt(metric(r, row, engine, what), digits)
                                    for r in runs))
        print("| %s | %s |" % (row[0], " | ".join(cells)))
    print()


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    names = sys.argv[1:]
    runs = [load_run(n) for n in names]
    if not any(runs):
        print("no JSON found for %s" % " / ".join(names), file=sys.stderr)
        sys.exit(1)

    two = [("x kaio", "kaio", 2), ("x io_uring", "io_uring", 2),
           ("CPU x io_uring", "cpu_io_uring", 2), ("p99 x best", "p99best", 1)]
    three = [("x kaio", "kaio", 2), ("x sync", "sync", 2),
             ("x posix-aio", "posix-aio", 2),
             ("CPU x io_uring", "cpu_io_uring", 2), ("p99 x best", "p99best", 1)]
    print("Cells: %s / %s\n" % tuple(names))
    table("io_uring allowed (uaio-uring)", "uaio-uring", two, runs)
    table("io_uring refused, kernel AIO allowed (uaio-kaio)", "uaio-kaio",
          two, runs)
    table("Neither (the threads executor, uaio)", "uaio", three, runs)

    for name, run in zip(names, runs):
        print("Absolute IOPS, run %s:" % name)
        print()
        for row in ROWS:
            engs = run.get((row[1], row[2]), {})
            parts = []
            for eng in ("kaio", "io_uring", "sync"):
                v = iops(engs.get(eng))
                parts.append("%s %s" % (eng, "-" if v is None else "%d" % v))
            print("- %s: %s" % (row[0], ", ".join(parts)))
        print()


if __name__ == "__main__":
    main()
