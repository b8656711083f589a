#!/usr/bin/env python3
"""The soak of issue 10: mcpcol at half of its saturation for 30 minutes, with a failure
event every 5 minutes, sampled every 10 s; flat lines expected.

Run through scripts/soak.sh, which builds first. Setup (same cores as scripts/bench.py):
the release mcpcol on core 0 with two OTLP/gRPC exporters, `jaeger` with a persistent
queue (`queue.directory`, on_full: block) and `otlp/memory` with the memory queue
(on_full: drop), each to its own downstream sink; analysis and the live view on;
`service.memory_limit_mib` 256 when this mcpcol has it. The sinks are `mcpcol-load --sink`
processes of their own (so an outage can stop and restart one), the load generator and
the bursts are `mcpcol-load` too, all on core 1.

1. Saturation: 20 s unpaced with the soak's load shape (10 000 sessions, 200 tools);
   the soak's rate is half of it (or --rate).
2. The soak: --minutes at that rate. Every --event-every seconds one event, in turn:
   outage (both sinks stopped for 60 s, then restarted on the same ports), sighup (a
   reload; skipped if this mcpcol does not export mcpcol_reloads_total, as the default
   action of SIGHUP is to terminate), tools (10 s of a second load with 100 000 tool
   names), sessions (the same with 100 000 sessions), slow-clients (200 TCP connections
   to OTLP/HTTP held 30 s: half send nothing, half a request head cut short).
3. Every --sample-every s, a row of target/soak.csv: RSS, open fds, threads, the queues,
   the counters of /metrics, and the events since the last row.
4. At the end: the load stops, the queues drain, mcpcol gets SIGTERM; then the
   accounting per exporter: accepted = received by its sink + dropped + failed + left
   in its queue (for the persistent queue, read from the files on disk after the exit);
   and accepted = what the load generators were told was accepted.
5. docs/soak.png from the CSV (matplotlib, installed into .venv when missing; also
   `python3 scripts/soak.py --plot-only target/soak.csv`).
"""

import argparse
import csv
import datetime
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import COLLECTOR_CORE, LOAD, LOAD_CORE, MCPCOL, ROOT, Collector, free_port  # noqa: E402

CSV_PATH = os.path.join(ROOT, "target/soak.csv")
PNG_PATH = os.path.join(ROOT, "docs/soak.png")
VENV = os.path.join(ROOT, ".venv")

PERSISTENT = "jaeger"
MEMORY = "otlp/memory"
EXPORTERS = {PERSISTENT: "persistent", MEMORY: "memory"}
REFUSAL_REASONS = ["malformed", "invalid", "too_large", "throttled", "unsupported_media_type",
                   "unauthenticated", "memory_limit"]
EVENTS = ["outage", "sighup", "tools", "sessions", "slow-clients"]
OUTAGE_SECONDS = 60
BURST_SECONDS = 10
SLOW_CLIENTS = 200
SLOW_SECONDS = 30

STARTED = time.time()


def log(message):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")
    print(f"[{now} +{time.time() - STARTED:6.0f}s] {message}", flush=True)


# --- /metrics ---------------------------------------------------------------------------

LINE = re.compile(r'^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(admin):
    """Every sample of /metrics as {(name, ((label, value), ...)): float}."""
    with urllib.request.urlopen(f"http://{admin}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        match = LINE.match(line)
        if not match or line.startswith("#"):
            continue
        name, labels, value = match.groups()
        try:
            samples[(name, tuple(sorted(LABEL.findall(labels or ""))))] = float(value)
        except ValueError:
            continue
    return samples


def total(samples, name, **want):
    """Sum of `name` over the samples whose labels include `want`."""
    return sum(v for (n, labels), v in samples.items()
               if n == name and all((k, w) in labels for k, w in want.items()))


# --- the downstream sinks ---------------------------------------------------------------

class Sink:
    """A downstream that counts spans: `mcpcol-load --sink` as a process of its own, so it
    can be stopped and restarted. mcpcol-load needs something to send to, so it sends
    itself one span a second; what mcpcol forwarded is what it counted minus those."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.received = 0  # spans from mcpcol, over every finished run of the sink
        self.proc = None
        self.start()

    def start(self):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, LOAD, "--json", "--sink", f"127.0.0.1:{self.port}",
             "--endpoint", f"http://127.0.0.1:{self.port}", "--rate", "1", "--streams", "1",
             "--spans-per-request", "1", "--distinct-requests", "1", "--duration", "24h",
             "--drain-timeout", "1s"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            self.log.seek(0)
            if "sink: counting" in self.log.read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise SystemExit(f"sink {self.name} did not start: {self.log.read()[-2000:]}")

    def stop(self):
        """SIGINT (mcpcol-load's Ctrl-C: stop sending, report); returns the spans this run
        of the sink received from mcpcol."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=60)
        self.proc = None
        report = json.loads(out.strip().splitlines()[-1])
        got = report["forwarded_spans"] - report["accepted_spans"]
        self.received += got
        return got


# --- mcpcol -----------------------------------------------------------------------------

def supports_memory_limit():
    with tempfile.NamedTemporaryFile(suffix=".yaml") as empty:
        check = subprocess.run([MCPCOL, "check-config", "--set", "service.memory_limit_mib=256", empty.name],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return check.returncode == 0


class Setup:
    """mcpcol with the soak's configuration, its two sinks and its queue directory."""

    def __init__(self, memory_limit):
        self.sinks = {name: Sink(name) for name in EXPORTERS}
        self.directory = tempfile.mkdtemp(prefix="mcpcol-soak-queue-", dir=os.path.join(ROOT, "target"))
        self.settings = [
            f"exporters.{PERSISTENT}.endpoint=http://127.0.0.1:{self.sinks[PERSISTENT].port}",
            f"exporters.{PERSISTENT}.queue.directory={self.directory}",
            f"exporters.{MEMORY}.endpoint=http://127.0.0.1:{self.sinks[MEMORY].port}",
            f"exporters.{MEMORY}.queue.on_full=drop",
            "service.shutdown_timeout=30s",
        ]
        if memory_limit:
            self.settings.append(f"service.memory_limit_mib={memory_limit}")
        self.collector = Collector(self.settings)
        self.pid = self.collector.proc.pid
        self.collector.log.seek(0)
        for line in self.collector.log:
            if '"otlp_http"' in line:
                ready = json.loads(line)
                self.http = ready.get("fields", ready)["otlp_http"]

    def stop_collector(self, timeout=60):
        """SIGTERM and wait for the drain; returns mcpcol's exit code and its last log lines."""
        self.collector.proc.send_signal(signal.SIGTERM)
        try:
            code = self.collector.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.collector.proc.kill()
            code = self.collector.proc.wait()
        self.collector.log.seek(0)
        text = self.collector.log.read()
        with open(os.path.join(ROOT, "target/soak-mcpcol.log"), "w") as f:
            f.write(text)
        return code, text.splitlines()[-5:]

    def close(self):
        for sink in self.sinks.values():
            if sink.proc is not None:
                sink.stop()
        if self.collector.proc.poll() is None:
            self.collector.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def left_on_disk(directory):
    """Spans still queued in a persistent queue's files: every record from `ack` on."""
    spans = 0
    for folder, _, files in os.walk(directory):
        segments = sorted(int(f[8:-4]) for f in files if f.startswith("segment-") and f.endswith(".log"))
        if not segments:
            continue
        ack_seq, ack_offset = segments[0], 0
        if "ack" in files:
            with open(os.path.join(folder, "ack")) as f:
                ack_seq, ack_offset = (int(x) for x in f.read().split()[:2])
        for seq in segments:
            if seq < ack_seq:
                continue
            with open(os.path.join(folder, f"segment-{seq:020}.log"), "rb") as f:
                data = f.read()
            at = ack_offset if seq == ack_seq else 0
            while at + 16 <= len(data) and data[at:at + 4] == b"MCQ1":
                length, count = struct.unpack_from("<II", data, at + 4)
                if at + 16 + length > len(data):
                    break
                spans += count
                at += 16 + length
    return spans


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# --- load -------------------------------------------------------------------------------

LOAD_SHAPE = ["--sessions", "10000", "--tools", "200", "--distinct-requests", "1000"]


def start_load(setup, args, log_path=None):
    stderr = open(log_path, "w") if log_path else subprocess.DEVNULL
    return subprocess.Popen(
        ["taskset", "-c", LOAD_CORE, LOAD, "--json", "--endpoint", f"http://{setup.collector.grpc}", *args],
        stdout=subprocess.PIPE, stderr=stderr, text=True)


def load_result(proc):
    out, _ = proc.communicate()
    return json.loads(out.strip().splitlines()[-1])


def measure_saturation(seconds, memory_limit):
    setup = Setup(memory_limit)
    try:
        result = load_result(start_load(setup, ["--duration", f"{seconds}s", *LOAD_SHAPE]))
    finally:
        setup.close()
    return result


# --- events -----------------------------------------------------------------------------

class Events:
    """The failure events, run one at a time on a thread of their own; each is printed
    with its time and noted for the next CSV row."""

    def __init__(self, setup, rate, sighup):
        self.setup = setup
        self.rate = rate
        self.sighup_supported = sighup
        self.pending = []
        self.lock = threading.Lock()
        self.done = []  # (elapsed s, name, what happened)
        self.burst_accepted = 0

    def note(self, label, detail=""):
        elapsed = time.time() - self.t0
        with self.lock:
            self.pending.append(label)
        self.done.append((round(elapsed), label, detail))
        log(f"event {label}" + (f": {detail}" if detail else ""))

    def take(self):
        with self.lock:
            taken, self.pending = self.pending, []
        return ";".join(taken)

    def run(self, kind):
        getattr(self, kind.replace("-", "_"))()

    def outage(self):
        got = {name: sink.stop() for name, sink in self.setup.sinks.items()}
        self.note("outage-start", f"both sinks stopped for {OUTAGE_SECONDS} s "
                  f"(they had received {got[PERSISTENT]} + {got[MEMORY]} spans)")
        time.sleep(OUTAGE_SECONDS)
        for sink in self.setup.sinks.values():
            sink.start()
        self.note("outage-end", "both sinks restarted on the same ports")

    def sighup(self):
        if not self.sighup_supported:
            self.note("sighup-skipped", "this mcpcol has no SIGHUP handler (no mcpcol_reloads_total)")
            return
        before = total(scrape(self.setup.collector.admin), "mcpcol_reloads_total")
        os.kill(self.setup.pid, signal.SIGHUP)
        time.sleep(2)
        alive = self.setup.collector.proc.poll() is None
        after = total(scrape(self.setup.collector.admin), "mcpcol_reloads_total") if alive else before
        self.note("sighup", f"mcpcol {'alive' if alive else 'DEAD'}, reloads {before:.0f} -> {after:.0f}")

    def burst(self, label, flag):
        rate = max(self.rate / 4, 12_000)
        proc = start_load(self.setup, ["--duration", f"{BURST_SECONDS}s", "--rate", f"{rate:.0f}",
                                       flag, "100000", "--distinct-requests", "2000", "--seed", "7"])
        self.note(f"{label}-start", f"second load, {BURST_SECONDS} s at {rate:.0f} spans/s, {flag} 100000")
        result = load_result(proc)
        self.burst_accepted += result["accepted_spans"]
        self.note(f"{label}-end", f"{result['accepted_spans']} spans accepted, "
                  f"non-OK {result['non_ok_requests']}")

    def tools(self):
        self.burst("tools", "--tools")

    def sessions(self):
        self.burst("sessions", "--sessions")

    def slow_clients(self):
        host, port = self.setup.http.rsplit(":", 1)
        conns, refused = [], 0
        for i in range(SLOW_CLIENTS):
            try:
                s = socket.create_connection((host, int(port)), timeout=5)
            except OSError:
                refused += 1
                continue
            if i % 2:  # a request head cut short; the other half send nothing
                s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: soak\r\nContent-Type: application/x-protobuf\r\n")
            s.setblocking(False)
            conns.append(s)
        opened = time.time()
        self.note("slow-clients-start", f"{len(conns)} connections to OTLP/HTTP held {SLOW_SECONDS} s "
                  f"(half idle, half a cut request head); {refused} refused on connect")
        closed_after = {}
        cut = {s for i, s in enumerate(conns) if i % 2}
        while time.time() - opened < SLOW_SECONDS:
            live = [s for s in conns if s not in closed_after]
            if live:
                readable, _, _ = select.select(live, [], [], 0.5)
                for s in readable:
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        closed_after[s] = time.time() - opened
            else:
                time.sleep(0.5)
        for s in conns:
            s.close()
        parts = []
        for kind, group in (("idle", [s for s in conns if s not in cut]), ("cut head", list(cut))):
            waits = sorted(closed_after[s] for s in group if s in closed_after)
            parts.append(f"{kind}: {len(waits)} of {len(group)} closed by mcpcol"
                         + (f" after {waits[0]:.1f}-{waits[-1]:.1f} s" if waits else ""))
        self.note("slow-clients-end", "; ".join(parts) + f" (within {SLOW_SECONDS} s; the rest closed by the client)")


# --- the soak ---------------------------------------------------------------------------

COLUMNS = (["elapsed_s", "rss_mib", "open_fds", "threads", "pipeline_queue"]
           + [f"queue_{short}" for short in EXPORTERS.values()]
           + ["accepted_total", "accepted_per_s", "processed_total"]
           + [f"{what}_{short}" for what in ("sent", "dropped", "failed", "retries") for short in EXPORTERS.values()]
           + [f"refused_{reason}" for reason in REFUSAL_REASONS]
           + ["http_connections", "grpc_connections", "memory_limited", "event"])


def row(setup, elapsed, last_accepted, last_elapsed):
    m = scrape(setup.collector.admin)
    pid = setup.pid
    accepted = total(m, "mcpcol_receiver_accepted_spans_total")
    values = {
        "elapsed_s": f"{elapsed:.0f}",
        "rss_mib": f"{proc_status(pid, 'VmRSS') / 1024:.1f}",
        "open_fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": proc_status(pid, "Threads"),
        "pipeline_queue": f"{total(m, 'mcpcol_pipeline_queue_size'):.0f}",
        "accepted_total": f"{accepted:.0f}",
        "accepted_per_s": f"{(accepted - last_accepted) / max(elapsed - last_elapsed, 1e-9):.0f}",
        "processed_total": f"{total(m, 'mcpcol_pipeline_processed_spans_total'):.0f}",
        "http_connections": f"{total(m, 'mcpcol_listener_open_connections', listener='otlp_http'):.0f}",
        "grpc_connections": f"{total(m, 'mcpcol_listener_open_connections', listener='otlp_grpc'):.0f}",
        "memory_limited": f"{total(m, 'mcpcol_memory_limited'):.0f}",
    }
    for name, short in EXPORTERS.items():
        values[f"queue_{short}"] = f"{total(m, 'mcpcol_exporter_queue_size', exporter=name):.0f}"
        values[f"sent_{short}"] = f"{total(m, 'mcpcol_exporter_sent_spans_total', exporter=name):.0f}"
        values[f"dropped_{short}"] = f"{total(m, 'mcpcol_exporter_dropped_spans_total', exporter=name):.0f}"
        values[f"failed_{short}"] = f"{total(m, 'mcpcol_exporter_send_failed_spans_total', exporter=name):.0f}"
        values[f"retries_{short}"] = f"{total(m, 'mcpcol_exporter_retries_total', exporter=name):.0f}"
    for reason in REFUSAL_REASONS:
        values[f"refused_{reason}"] = f"{total(m, 'mcpcol_receiver_refused_spans_total', reason=reason):.0f}"
    return values, accepted, m


def soak(opts, rate, memory_limit):
    setup = Setup(memory_limit)
    first = scrape(setup.collector.admin)
    sighup = any(name == "mcpcol_reloads_total" for name, _ in first)
    if not sighup:
        log("this mcpcol has no mcpcol_reloads_total: SIGHUP would terminate it, the sighup event is skipped")
    seconds = opts.minutes * 60
    events = Events(setup, rate, sighup)
    schedule = [(opts.event_every * (i + 1), EVENTS[i % len(EVENTS)])
                for i in range(int((seconds - 1) // opts.event_every))]
    progress = os.path.join(ROOT, "target/soak-load.log")
    load = start_load(setup, ["--duration", f"{seconds}s", "--rate", f"{rate:.0f}", *LOAD_SHAPE], progress)
    t0 = events.t0 = time.time()
    log(f"soak: {seconds} s at {rate:.0f} spans/s; mcpcol pid {setup.pid}; events at "
        + ", ".join(f"{at} s {kind}" for at, kind in schedule))

    def run_events():
        for at, kind in schedule:
            time.sleep(max(0, t0 + at - time.time()))
            if load.poll() is not None:
                return
            try:
                events.run(kind)
            except Exception as err:  # one failed event must not end the soak
                events.note(f"{kind}-failed", repr(err))

    thread = threading.Thread(target=run_events, daemon=True)
    thread.start()
    rows = []
    out = open(opts.csv, "w", newline="")
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    last_accepted, last_elapsed = 0.0, 0.0
    next_at = t0 + opts.sample_every
    drained_at = None
    metrics = first
    while True:
        time.sleep(max(0, next_at - time.time()))
        next_at += opts.sample_every
        elapsed = time.time() - t0
        if setup.collector.proc.poll() is not None:
            log(f"mcpcol EXITED with {setup.collector.proc.returncode}")
            break
        values, last_accepted, metrics = row(setup, elapsed, last_accepted, last_elapsed)
        last_elapsed = elapsed
        if load.poll() is not None and drained_at is None:
            drained_at = elapsed
            events.note("load-end")
        values["event"] = events.take()
        writer.writerow(values)
        out.flush()
        rows.append(values)
        if len(rows) % 6 == 0 or values["event"]:
            log(f"RSS {values['rss_mib']} MiB, fds {values['open_fds']}, queues "
                f"{values['pipeline_queue']}/{values['queue_persistent']}/{values['queue_memory']}, "
                f"{values['accepted_per_s']} spans/s" + (f"  [{values['event']}]" if values["event"] else ""))
        if drained_at is not None:
            queued = float(values["pipeline_queue"]) + sum(float(values[f"queue_{s}"]) for s in EXPORTERS.values())
            if (queued == 0 and not thread.is_alive()) or elapsed - drained_at > opts.drain_seconds:
                break
    out.close()
    thread.join(timeout=OUTAGE_SECONDS + 30)
    main_result = load_result(load)
    final = row(setup, time.time() - t0, last_accepted, last_elapsed)[2]
    code, last_lines = setup.stop_collector()
    log(f"mcpcol stopped (exit {code}): {last_lines[-1] if last_lines else ''}")
    time.sleep(1)
    on_disk = left_on_disk(setup.directory)
    for sink in setup.sinks.values():
        sink.stop()
    report = account(final, setup, on_disk, main_result, events)
    shutil.rmtree(setup.directory, ignore_errors=True)
    return rows, report, events


def account(m, setup, on_disk, main_result, events):
    accepted = total(m, "mcpcol_receiver_accepted_spans_total")
    report = {"accepted": accepted, "load_accepted": main_result["accepted_spans"] + events.burst_accepted,
              "load_non_ok": main_result["non_ok_requests"], "load_result": main_result,
              "exporters": {}, "refused": {}, "events": events.done}
    for name, short in EXPORTERS.items():
        e = {
            "received": setup.sinks[name].received,
            "sent": total(m, "mcpcol_exporter_sent_spans_total", exporter=name),
            "dropped": total(m, "mcpcol_exporter_dropped_spans_total", exporter=name),
            "failed": total(m, "mcpcol_exporter_send_failed_spans_total", exporter=name),
            "queued_at_sigterm": total(m, "mcpcol_exporter_queue_size", exporter=name),
            "retries": total(m, "mcpcol_exporter_retries_total", exporter=name),
            "failed_by_reason": {dict(labels)["reason"]: v for (n, labels), v in m.items()
                                 if n == "mcpcol_exporter_send_failed_spans_total" and v
                                 and ("exporter", name) in labels},
            "left_on_disk": on_disk if name == PERSISTENT else 0,
        }
        e["unaccounted"] = accepted - e["received"] - e["dropped"] - e["failed"] - e["left_on_disk"]
        report["exporters"][short] = e
    for reason in REFUSAL_REASONS:
        report["refused"][reason] = total(m, "mcpcol_receiver_refused_spans_total", reason=reason)
    return report


def summary(rows, report, opts, saturation, rate, memory_limit):
    seconds = opts.minutes * 60
    split = min(300, seconds / 6)
    def col(name, early):
        return [float(r[name]) for r in rows if (float(r["elapsed_s"]) <= split) == early]
    def mmm(values, fmt="{:.1f}"):
        return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values))) if values else "-"
    lines = [
        f"soak: {opts.minutes:g} min at {rate:.0f} spans/s ("
        + (f"half of the saturation measured, {saturation:.0f} spans/s" if saturation == saturation else "--rate")
        + "); "
        f"memory_limit_mib {memory_limit or 'not set (unsupported)'}; {len(rows)} samples in {opts.csv}",
        f"spans accepted by mcpcol: {report['accepted']:.0f} (the load generators were told "
        f"{report['load_accepted']:.0f}); main load non-OK requests {report['load_non_ok']}",
    ]
    for short, e in report["exporters"].items():
        lines.append(f"  exporter {short}: received by its sink {e['received']:.0f} (mcpcol counted sent "
                     f"{e['sent']:.0f}), dropped {e['dropped']:.0f}, failed {e['failed']:.0f}, queued at SIGTERM "
                     f"{e['queued_at_sigterm']:.0f}, left on disk {e['left_on_disk']:.0f}, retries "
                     f"{e['retries']:.0f}; unaccounted {e['unaccounted']:.0f}"
                     + (f"; failed by reason {e['failed_by_reason']}" if e["failed_by_reason"] else ""))
    refused = ", ".join(f"{k} {v:.0f}" for k, v in report["refused"].items() if v)
    lines.append(f"refused spans by reason: {refused or 'none'}")
    lines.append(f"RSS MiB min / median / max: first {split:.0f} s {mmm(col('rss_mib', True))}; "
                 f"after {mmm(col('rss_mib', False))}")
    fds = [float(r["open_fds"]) for r in rows]
    lines.append(f"open fds min / max: {min(fds):.0f} / {max(fds):.0f}; threads "
                 f"{min(float(r['threads']) for r in rows):.0f} / {max(float(r['threads']) for r in rows):.0f}")
    for q in ["pipeline_queue"] + [f"queue_{s}" for s in EXPORTERS.values()]:
        lines.append(f"{q} max {max(float(r[q]) for r in rows):.0f} spans")
    lines.append("events: " + "; ".join(f"{at} s {label}" + (f" ({detail})" if detail else "")
                                        for at, label, detail in report["events"]))
    return "\n".join(lines)


# --- plot -------------------------------------------------------------------------------

def ensure_matplotlib():
    python = os.path.join(VENV, "bin/python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([python, "-c", "import matplotlib"], stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", "matplotlib"], check=True)
    return python


def plot(csv_path, png_path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    t = [float(r["elapsed_s"]) / 60 for r in rows]
    def series(name):
        return [float(r[name]) for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(9, 9), sharex=True)
    axes[0].plot(t, series("rss_mib"), color="tab:red")
    axes[0].set_ylabel("RSS MiB")
    axes[0].set_ylim(bottom=0)
    axes[1].plot(t, series("open_fds"), label="open fds")
    axes[1].plot(t, series("threads"), label="threads")
    axes[1].set_ylabel("count")
    axes[1].set_ylim(bottom=0)
    axes[1].legend(loc="upper right", fontsize=8)
    axes[2].plot(t, series("pipeline_queue"), label="pipeline")
    for short in EXPORTERS.values():
        axes[2].plot(t, series(f"queue_{short}"), label=f"exporter {short}")
    axes[2].set_ylabel("queued spans")
    axes[2].set_yscale("symlog", linthresh=100)
    axes[2].legend(loc="upper right", fontsize=8)
    axes[3].plot(t, series("accepted_per_s"), color="tab:green", label="accepted")
    refused = [0.0] * len(rows)
    last = 0.0
    for i, r in enumerate(rows):
        now = sum(float(r[f"refused_{reason}"]) for reason in REFUSAL_REASONS)
        dt = float(r["elapsed_s"]) - (float(rows[i - 1]["elapsed_s"]) if i else 0)
        refused[i] = (now - last) / max(dt, 1e-9)
        last = now
    axes[3].plot(t, refused, color="tab:gray", label="refused")
    axes[3].set_ylabel("spans/s")
    axes[3].set_ylim(bottom=0)
    axes[3].legend(loc="upper right", fontsize=8)
    axes[3].set_xlabel("minutes")
    started = None
    for r, x in zip(rows, t):
        for label in filter(None, r["event"].split(";")):
            if label == "outage-start":
                started = x
            if label == "outage-end" and started is not None:
                for ax in axes:
                    ax.axvspan(started, x, color="gray", alpha=0.12, linewidth=0)
            if label.endswith("-end") and label != "load-end":
                continue
            for ax in axes:
                ax.axvline(x, color="black", alpha=0.3, linestyle="--", linewidth=0.8)
            axes[0].annotate(label.replace("-start", ""), (x, 1.0), xycoords=("data", "axes fraction"),
                             rotation=90, fontsize=7, va="top", ha="right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(png_path, dpi=80)
    log(f"plot: {png_path} ({os.path.getsize(png_path) // 1024} KiB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--event-every", type=float, default=300, metavar="SECONDS")
    parser.add_argument("--sample-every", type=float, default=10, metavar="SECONDS")
    parser.add_argument("--saturation-seconds", type=int, default=20)
    parser.add_argument("--rate", type=float, help="spans/s of the soak; default: half of the measured saturation")
    parser.add_argument("--memory-limit", type=int, default=256, metavar="MIB",
                        help="service.memory_limit_mib (0: unset)")
    parser.add_argument("--drain-seconds", type=float, default=120,
                        help="after the load, longest wait for the queues to empty before SIGTERM")
    parser.add_argument("--csv", default=CSV_PATH)
    parser.add_argument("--png", default=PNG_PATH)
    parser.add_argument("--report", default=os.path.join(ROOT, "target/soak-report.json"))
    parser.add_argument("--plot-only", metavar="CSV", help="only draw --png from this CSV")
    parser.add_argument("--title", default="mcpcol soak")
    opts = parser.parse_args()
    if opts.plot_only:
        plot(opts.plot_only, opts.png, opts.title)
        return

    memory_limit = opts.memory_limit
    if memory_limit and not supports_memory_limit():
        log("this mcpcol has no service.memory_limit_mib: running without it")
        memory_limit = 0
    saturation = None
    if opts.rate:
        rate = opts.rate
    else:
        result = measure_saturation(opts.saturation_seconds, memory_limit)
        saturation = result["spans_per_s"]
        rate = saturation / 2
        log(f"saturation: {saturation:.0f} spans/s over {opts.saturation_seconds} s "
            f"(non-OK {result['non_ok_requests']}); the soak runs at {rate:.0f}")
    rows, report, _ = soak(opts, rate, memory_limit)
    report.update({"saturation": saturation, "rate": rate, "memory_limit_mib": memory_limit,
                   "minutes": opts.minutes, "event_every": opts.event_every})
    with open(opts.report, "w") as f:
        json.dump(report, f, indent=1)
    text = summary(rows, report, opts, saturation or float("nan"), rate, memory_limit)
    print("\n" + text, flush=True)
    if rows:
        title = (f"mcpcol soak: {opts.minutes:g} min at {rate / 1000:.0f}K spans/s "
                 f"(half of {saturation / 1000:.0f}K)" if saturation else
                 f"mcpcol soak: {opts.minutes:g} min at {rate / 1000:.0f}K spans/s")
        python = ensure_matplotlib()
        subprocess.run([python, os.path.abspath(__file__), "--plot-only", opts.csv, "--png", opts.png,
                        "--title", title], check=True)


if __name__ == "__main__":
    main()
