#!/usr/bin/env bash
# compare.sh - fio 3.33 on kernel AIO, uaio (uring, kaio and threads
# executors), io_uring, posixaio and psync threads, same jobs, same file,
# back to back.
#
#   bench/compare.sh [--runtime SEC] [--size SIZE] [--dir DIR] [--json FILE]
#                    [--quick] [--jobs LIST] [--list] [-h]
#
#   --runtime SEC  seconds per row (default 5)
#   --size SIZE    test file size, fio syntax (default 1G)
#   --dir DIR      where the test file goes (default $TMPDIR or /tmp); it is
#                  created once and removed at the end
#   --json FILE    all figures (default $TMPDIR/uaio-compare.json)
#   --quick        runtime 2 s and only the QD 32 jobs
#   --jobs LIST    comma-separated job names or shell patterns (see --list)
#   --list         print the job names and exit
#   --fio PATH     fio binary (default /usr/bin/fio)
#
# Engines per job: kaio (libaio on the kernel), uaio-uring, uaio-kaio and
# uaio-threads (libaio through build/uaio-run -v -e uring|kaio|threads),
# io_uring, posixaio, psync (--numjobs=<iodepth> --thread
# --group_reporting).  A uaio row is FAILED unless uaio-run -v reports
# "served by uaio" with the forced executor; any row is FAILED if fio exits
# non-zero or a job error != 0.  The kaio executor sends only O_DIRECT I/O
# to kernel AIO: on the buffered jobs uaio-kaio runs on its threads.
# The machine may be shared and noisy: the figures are printed with ratios,
# nothing is asserted on timing.
set -u
prog=${0##*/}
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
root=$(cd "$here/.." && pwd)

usage() { sed -n '2,27s/^# \{0,1\}//p' "$0"; exit "${1:-2}"; }

runtime=5 size=1G dir=${TMPDIR:-/tmp} json= quick=0 jobs= list=0 fio=/usr/bin/fio
while [ $# -gt 0 ]; do
	case $1 in
	--runtime) [ $# -ge 2 ] || usage; runtime=$2; shift 2;;
	--runtime=*) runtime=${1#*=}; shift;;
	--size) [ $# -ge 2 ] || usage; size=$2; shift 2;;
	--size=*) size=${1#*=}; shift;;
	--dir) [ $# -ge 2 ] || usage; dir=$2; shift 2;;
	--dir=*) dir=${1#*=}; shift;;
	--json) [ $# -ge 2 ] || usage; json=$2; shift 2;;
	--json=*) json=${1#*=}; shift;;
	--jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2;;
	--jobs=*) jobs=${1#*=}; shift;;
	--fio) [ $# -ge 2 ] || usage; fio=$2; shift 2;;
	--fio=*) fio=${1#*=}; shift;;
	--quick) quick=1; shift;;
	--list) list=1; shift;;
	-h|--help) usage 0;;
	*) echo "$prog: unknown argument '$1'" >&2; usage;;
	esac
done
case $runtime in ''|*[!0-9]*|0) echo "$prog: --runtime wants a positive integer" >&2; exit 2;; esac
[ -n "$json" ] || json=${TMPDIR:-/tmp}/uaio-compare.json
command -v python3 >/dev/null || { echo "$prog: python3 is required" >&2; exit 2; }

if [ $list = 0 ]; then
	[ -x "$fio" ] || { echo "$prog: no fio at $fio" >&2; exit 2; }
	[ -d "$dir" ] && [ -w "$dir" ] || { echo "$prog: --dir $dir is not a writable directory" >&2; exit 2; }
	# Build uaio if needed; someone may be editing, so retry a few times.
	tries=0
	while [ ! -x "$root/build/uaio-run" ] || [ ! -f "$root/build/lib/uaio/libaio.so.1" ]; do
		tries=$((tries + 1))
		[ $tries -le 4 ] || { echo "$prog: cannot build uaio (make -C $root all)" >&2; exit 2; }
		echo "$prog: building uaio (make -C $root all), attempt $tries" >&2
		make -s -C "$root" all >&2 || sleep 15
	done
fi

export CMP_ROOT=$root CMP_RUNTIME=$runtime CMP_SIZE=$size CMP_DIR=$dir CMP_JSON=$json
export CMP_QUICK=$quick CMP_JOBS=$jobs CMP_LIST=$list CMP_FIO=$fio
exec python3 -u - <<'PY'
import fnmatch, json, os, platform, resource, signal, subprocess, sys, tempfile, time

env = os.environ
ROOT, FIO = env["CMP_ROOT"], env["CMP_FIO"]
RUNTIME = 2 if env["CMP_QUICK"] == "1" else int(env["CMP_RUNTIME"])
SIZE, DIR, JSON_OUT = env["CMP_SIZE"], env["CMP_DIR"], env["CMP_JSON"]
UAIO_RUN = os.path.join(ROOT, "build", "uaio-run")

# name -> (description, fio args, iodepth, cache mode)
JOBS = [
    ("randread-warm-qd1",   "4k randread, buffered, warm cache, QD1",   ["--rw=randread", "--bs=4k"], 1,   "warm"),
    ("randread-warm-qd32",  "4k randread, buffered, warm cache, QD32",  ["--rw=randread", "--bs=4k"], 32,  "warm"),
    ("randread-warm-qd128", "4k randread, buffered, warm cache, QD128", ["--rw=randread", "--bs=4k"], 128, "warm"),
    ("randread-cold-qd32",  "4k randread, buffered, cold cache, QD32",  ["--rw=randread", "--bs=4k"], 32,  "cold"),
    ("randread-direct-qd1",   "4k randread, O_DIRECT, QD1",   ["--rw=randread", "--bs=4k", "--direct=1"], 1,   "direct"),
    ("randread-direct-qd32",  "4k randread, O_DIRECT, QD32",  ["--rw=randread", "--bs=4k", "--direct=1"], 32,  "direct"),
    ("randread-direct-qd128", "4k randread, O_DIRECT, QD128", ["--rw=randread", "--bs=4k", "--direct=1"], 128, "direct"),
    ("seqread-128k-direct-qd32", "128k sequential read, O_DIRECT, QD32", ["--rw=read", "--bs=128k", "--direct=1"], 32, "direct"),
    ("randwrite-fsync32-qd32", "4k randwrite, buffered, fsync every 32 writes, QD32",
     ["--rw=randwrite", "--bs=4k", "--fsync=32"], 32, "write"),
]
ENGINES = ["kaio", "uaio-uring", "uaio-kaio", "uaio-threads", "io_uring", "posixaio", "psync"]

if env["CMP_LIST"] == "1":
    for name, desc, *_ in JOBS:
        print("%-26s %s" % (name, desc))
    sys.exit(0)

selected = JOBS
if env["CMP_JOBS"]:
    pats = [p.strip() for p in env["CMP_JOBS"].split(",") if p.strip()]
    bad = [p for p in pats if not any(fnmatch.fnmatch(j[0], p) for j in JOBS)]
    if bad:
        sys.exit("compare.sh: unknown job(s) %s; --list shows them" % ", ".join(bad))
    selected = [j for j in JOBS if any(fnmatch.fnmatch(j[0], p) for p in pats)]
if env["CMP_QUICK"] == "1":
    selected = [j for j in selected if j[3] == 32]
if not selected:
    sys.exit("compare.sh: no job selected")

def on_signal(sig, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGHUP, on_signal)

def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])

def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False

def warm(path):
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 20):
            pass

def fio_json(path):
    with open(path) as f:
        text = f.read()
    i = text.find("{")       # fio may print warnings before the JSON
    return json.loads(text[i:]) if i >= 0 else None

def pct(d, key):
    v = (d.get("clat_ns") or {}).get("percentile", {}).get(key) if key else None
    return v / 1000.0 if v is not None else None

tmpd = tempfile.mkdtemp(prefix="uaio-compare.", dir=os.environ.get("TMPDIR") or "/tmp")
testfile = os.path.join(DIR, "uaio-compare.%d.dat" % os.getpid())
uaio_rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip() or None
results = {
    "meta": {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "fio": subprocess.run([FIO, "--version"], capture_output=True, text=True).stdout.strip(),
        "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
        "uaio_rev": uaio_rev, "runtime_s": RUNTIME, "size": SIZE, "file": testfile,
        "loadavg_start": loadavg(),
        "notes": [
            "iops_ratio_* = row IOPS / reference IOPS (io_uring, kaio)",
            "cpu_pct = fio usr_cpu+sys_cpu; for psync fio averages over its numjobs threads, "
            "so cpu_pct is that average x numjobs (whole-process equivalent)",
            "proc_cpu_pct = CPU time (user+sys) of the whole fio process tree over wall time, from rusage",
            "clat = completion latency: for libaio/io_uring it excludes submission time (slat)",
        ],
    },
    "jobs": {},
}

cold_method = None
rc_final = 0
t_start = time.time()
print("uaio compare: %s, file %s (%s), %d s per row, %d job(s) x %d engines, load %s"
      % (results["meta"]["fio"], testfile, SIZE, RUNTIME, len(selected), len(ENGINES), loadavg()))
try:
    # Lay the file out once.
    lay = subprocess.run([FIO, "--name=layout", "--filename=" + testfile, "--size=" + SIZE,
                          "--rw=write", "--bs=1M", "--ioengine=psync", "--end_fsync=1",
                          "--output-format=json", "--output=" + os.path.join(tmpd, "layout.json")],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if lay.returncode != 0:
        sys.exit("compare.sh: cannot create %s: %s" % (testfile, lay.stderr.strip()))

    for name, desc, args, qd, cache in selected:
        if cache == "cold":
            if cold_method is None:
                cold_method = ("drop caches (sync; echo 3 > /proc/sys/vm/drop_caches) + --invalidate=1 before each engine"
                               if drop_caches() else
                               "--invalidate=1 (fio posix_fadvise DONTNEED at open; drop_caches not writable)")
                results["meta"]["cold_cache_method"] = cold_method
            desc += " [" + cold_method + "]"
        elif cache == "warm":
            desc += " [cat file >/dev/null before each engine, --invalidate=0]"
        job = {"desc": desc, "iodepth": qd, "loadavg_start": loadavg(), "rows": {}}
        results["jobs"][name] = job
        print("\n== %s: %s (load %s)" % (name, desc, job["loadavg_start"]))
        for eng in ENGINES:
            cmd = [FIO, "--name=" + name, "--filename=" + testfile, "--size=" + SIZE,
                   "--runtime=%d" % RUNTIME, "--time_based", "--group_reporting"] + args
            if eng == "psync":
                cmd += ["--ioengine=psync", "--iodepth=1", "--numjobs=%d" % qd, "--thread"]
            else:
                cmd += ["--ioengine=" + ("libaio" if eng == "kaio" or eng.startswith("uaio-") else eng),
                        "--iodepth=%d" % qd]
            if cache == "warm":
                cmd += ["--invalidate=0"]
                warm(testfile)
            elif cache == "cold":
                cmd += ["--invalidate=1"]
                if cold_method.startswith("drop"):
                    drop_caches()
            out = os.path.join(tmpd, "%s.%s.json" % (name, eng))
            cmd += ["--output-format=json", "--output=" + out]
            executor = None
            if eng.startswith("uaio-"):
                executor = eng.split("-", 1)[1]
                cmd = [UAIO_RUN, "-v", "-e", executor] + cmd
            row = {"cmd": " ".join(cmd), "status": "ok", "reason": None}
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            wall = time.monotonic() - t0
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            row["wall_s"] = round(wall, 2)
            row["proc_cpu_pct"] = round(100.0 * ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / wall, 1)
            reasons = []
            if p.returncode != 0:
                reasons.append("fio exit %d" % p.returncode)
            if executor:
                served = [l for l in p.stderr.splitlines() if "served by uaio" in l]
                row["uaio_report"] = served[-1] if served else None
                if not served:
                    reasons.append("not served by uaio")
                elif ("executor %s:" % executor) not in served[-1]:
                    reasons.append("uaio executor differs from " + executor)
            try:
                d = fio_json(out)
            except (OSError, ValueError) as e:
                d = None
            if not d or not d.get("jobs"):
                reasons.append("no fio JSON")
            else:
                j = d["jobs"][0]
                if j.get("error", 0) != 0:
                    reasons.append("fio job error %d" % j["error"])
                dirs = [j[k] for k in ("read", "write") if j[k].get("total_ios", 0) or j[k].get("io_bytes", 0)]
                dd = dirs[0] if dirs else j["read"]
                nthreads = qd if eng == "psync" else 1
                row.update({
                    "iops": sum(j[k]["iops"] for k in ("read", "write")),
                    "mbps": sum(j[k]["bw_bytes"] for k in ("read", "write")) / 1e6,
                    "clat_p50_us": pct(dd, "50.000000"), "clat_p99_us": pct(dd, "99.000000"),
                    "clat_mean_us": dd.get("clat_ns", {}).get("mean", 0) / 1000.0,
                    "lat_mean_us": dd.get("lat_ns", {}).get("mean", 0) / 1000.0,
                    "usr_cpu": j["usr_cpu"], "sys_cpu": j["sys_cpu"], "fio_threads": nthreads,
                    "cpu_pct": (j["usr_cpu"] + j["sys_cpu"]) * nthreads,
                    "ctx": j.get("ctx"), "job_error": j.get("error"),
                })
            err_lines = [l for l in p.stderr.splitlines() if l.strip() and "served by uaio" not in l]
            if err_lines:
                row["stderr"] = "\n".join(err_lines[-10:])
            if reasons:
                row["status"], row["reason"] = "FAILED", "; ".join(reasons)
                rc_final = 1
            job["rows"][eng] = row

        # Ratios and the table.
        def ref(e):
            r = job["rows"].get(e)
            return r["iops"] if r and r["status"] == "ok" and r.get("iops") else None
        ru, rk = ref("io_uring"), ref("kaio")
        print("%-13s %10s %9s %9s %9s %7s %7s %9s %8s  %s" % ("engine", "IOPS", "MB/s", "p50 us", "p99 us",
              "cpu%", "proc%", "x io_uring", "x kaio", "status"))
        for eng in ENGINES:
            r = job["rows"][eng]
            ok = r["status"] == "ok" and "iops" in r
            r["iops_ratio_io_uring"] = r["iops"] / ru if ok and ru else None
            r["iops_ratio_kaio"] = r["iops"] / rk if ok and rk else None
            f = lambda v, fmt: (fmt % v) if v is not None else "-"
            if "iops" in r:
                print("%-13s %10.0f %9.1f %9s %9s %7.1f %7.1f %9s %8s  %s" % (
                    eng, r["iops"], r["mbps"], f(r["clat_p50_us"], "%.1f"), f(r["clat_p99_us"], "%.1f"),
                    r["cpu_pct"], r["proc_cpu_pct"], f(r["iops_ratio_io_uring"], "%.2f"),
                    f(r["iops_ratio_kaio"], "%.2f"),
                    "ok" if r["status"] == "ok" else "FAILED: " + r["reason"]))
            else:
                print("%-13s %10s %9s %9s %9s %7s %7.1f %9s %8s  FAILED: %s" % (
                    eng, "-", "-", "-", "-", "-", r["proc_cpu_pct"], "-", "-", r["reason"]))
            if r["status"] != "ok" and r.get("stderr"):
                for l in r["stderr"].splitlines()[-3:]:
                    print("              | " + l)
except KeyboardInterrupt:
    print("\ncompare.sh: interrupted; writing what was measured", file=sys.stderr)
    rc_final = 130
finally:
    for f in (testfile,):
        try:
            os.unlink(f)
        except OSError:
            pass
    subprocess.run(["rm", "-rf", tmpd])
    results["meta"]["loadavg_end"] = loadavg()
    results["meta"]["elapsed_s"] = round(time.time() - t_start, 1)
    if results["jobs"]:
        try:
            with open(JSON_OUT, "w") as f:
                json.dump(results, f, indent=1)
                f.write("\n")
            print("\nresults: %s (elapsed %.0f s, load %s -> %s)" % (JSON_OUT, results["meta"]["elapsed_s"],
                  results["meta"]["loadavg_start"], results["meta"]["loadavg_end"]))
        except OSError as e:
            print("compare.sh: cannot write %s: %s" % (JSON_OUT, e), file=sys.stderr)
            rc_final = rc_final or 1
print("columns: p50/p99 = fio completion latency (clat); cpu% = fio usr_cpu+sys_cpu (psync: x numjobs, "
      "fio averages over threads); proc% = rusage CPU of the fio process tree / wall; x io_uring, x kaio = IOPS ratios"
      + ("; cold cache: " + cold_method if cold_method else ""))
sys.exit(rc_final)
PY
