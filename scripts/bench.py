#!/usr/bin/env python3
"""The BENCHMARKS.md table, from one run: the release mcpcol pinned to core 0, the load
generator (and, when forwarding, its in-process OTLP sink) pinned to core 1.

Run through scripts/bench.sh, which builds first. Options: --runs N (3), --seconds S (10),
--only NAME (one configuration), --out FILE (the raw results as JSON lines); instead of
the table, --live-overhead ROUNDS (the live view on against off, alternating) or
--rss-run SECONDS.

For each configuration, N runs of S seconds at saturation (16 gRPC streams of 100-span
requests); before each round, the decode ceiling: plain protobuf decode of the same
payloads on the same core (`mcpcol-load --ceiling`). Then export latency at a light load
(20K spans/s) and at half of the forwarding saturation, and RSS with 10K active sessions
and the series cap reached. Every figure is min / median / max over the runs.
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MCPCOL = os.path.join(ROOT, "target/release/mcpcol")
LOAD = os.path.join(ROOT, "target/release/mcpcol-load")
COLLECTOR_CORE = "0"
LOAD_CORE = "1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """The release mcpcol on core 0, listening on free ports."""

    def __init__(self, settings):
        args = ["taskset", "-c", COLLECTOR_CORE, MCPCOL, "--log-format", "json"]
        for key in ("receivers.otlp.grpc.endpoint", "receivers.otlp.http.endpoint", "metrics.endpoint"):
            args += ["--set", f"{key}=127.0.0.1:0"]
        for setting in settings:
            args += ["--set", setting]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            self.log.seek(0)
            for line in self.log:
                if '"otlp_grpc"' in line:
                    ready = json.loads(line)
                    fields = ready.get("fields", ready)
                    self.grpc = fields["otlp_grpc"]
                    self.admin = fields["metrics"]
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise SystemExit(f"mcpcol did not start: {self.log.read()[-2000:]}")

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load(args, core=LOAD_CORE):
    out = subprocess.run(
        ["taskset", "-c", core, LOAD, "--json", *args],
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def ceiling(seconds):
    return load(["--ceiling", "--duration", f"{seconds}s"], core=COLLECTOR_CORE)["spans_per_s"]


def saturate(config, seconds, extra_load=()):
    settings, forwards = config
    sink = free_port() if forwards else None
    if forwards:
        settings = settings + [f"exporters.jaeger.endpoint=http://127.0.0.1:{sink}"]
    directory = None
    if any(s.startswith("exporters.queue.directory=") for s in settings):
        directory = tempfile.mkdtemp(prefix="mcpcol-bench-queue-")
        settings = [s.replace("{dir}", directory) for s in settings]
    collector = Collector(settings)
    try:
        args = ["--endpoint", f"http://{collector.grpc}", "--duration", f"{seconds}s", *extra_load]
        if forwards:
            args += ["--sink", f"127.0.0.1:{sink}"]
        result = load(args)
        result["rss_mib"] = collector.status("VmRSS")
        result["hwm_mib"] = collector.status("VmHWM")
    finally:
        collector.stop()
        if directory:
            subprocess.run(["rm", "-rf", directory], check=False)
    return result


CONFIGS = {
    "receive only": (["service.analysis=false"], False),
    "+ recognise + RED": (["live.enabled=false"], False),
    "+ live view": ([], False),
    "+ OTLP forward": ([], True),
    "+ persistent queue": (["exporters.queue.directory={dir}"], True),
    "recognise + RED + forward (live view off)": (["live.enabled=false"], True),
}


def spread(values, fmt="{:.0f}"):
    values = sorted(values)
    return " / ".join(fmt.format(v) for v in (values[0], statistics.median(values), values[-1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", choices=list(CONFIGS))
    parser.add_argument("--out", default=os.path.join(ROOT, "target/bench-results.jsonl"))
    parser.add_argument("--live-overhead", type=int, metavar="ROUNDS",
                        help="instead of the table: the live view's cost, ROUNDS rounds of the two "
                             "forwarding configurations (live view on, off) in alternating order")
    parser.add_argument("--rss-run", type=int, metavar="SECONDS",
                        help="instead of the table: one run of SECONDS at saturation (+ OTLP forward, "
                             "10K sessions), RSS sampled every 10 s into target/bench-rss.csv")
    opts = parser.parse_args()
    if opts.rss_run:
        rss_run(opts.rss_run)
        return
    if opts.live_overhead:
        live_overhead(opts.live_overhead, opts.seconds)
        return
    out = open(opts.out, "w")

    def record(kind, name, result):
        out.write(json.dumps({"kind": kind, "name": name, **result}) + "\n")
        out.flush()

    configs = {opts.only: CONFIGS[opts.only]} if opts.only else CONFIGS
    rows = {name: [] for name in configs}
    ceilings = []
    for run in range(opts.runs):
        ceilings.append(ceiling(opts.seconds))
        record("ceiling", "decode", {"spans_per_s": ceilings[-1]})
        print(f"run {run + 1}/{opts.runs}: decode ceiling {ceilings[-1]:.0f} spans/s", file=sys.stderr)
        for name, config in configs.items():
            result = saturate(config, opts.seconds)
            result["ceiling"] = ceilings[-1]
            rows[name].append(result)
            record("saturation", name, result)
            forwarded = result.get("forwarded_spans")
            print(
                f"  {name}: {result['spans_per_s']:.0f} spans/s accepted"
                + (f", {forwarded} of {result['accepted_spans']} forwarded" if forwarded is not None else "")
                + f", non-OK {result['non_ok_requests']}, RSS peak {result['hwm_mib']:.1f} MiB",
                file=sys.stderr,
            )

    print(f"\nDecode ceiling (plain prost decode of the same payloads, core {COLLECTOR_CORE}): "
          f"{spread(ceilings)} spans/s (min / median / max of {opts.runs})\n")
    print("| configuration | spans/s at saturation | ratio to the ceiling | peak RSS MiB | non-OK answers |")
    print("|---|---|---|---|---|")
    for name, results in rows.items():
        print(
            f"| {name} | {spread([r['spans_per_s'] for r in results])} "
            f"| {spread([r['spans_per_s'] / r['ceiling'] for r in results], '{:.0%}')} "
            f"| {spread([r['hwm_mib'] for r in results], '{:.1f}')} "
            f"| {spread([r['non_ok_requests'] for r in results])} |"
        )
    if opts.only:
        return

    forward = rows["+ OTLP forward"]
    half = statistics.median(r["spans_per_s"] for r in forward) / 2
    print("\n| export latency (+ OTLP forward) | p50 ms | p99 ms | p999 ms |")
    print("|---|---|---|---|")
    for label, rate in (("20K spans/s", 20_000), (f"half of saturation ({half:.0f} spans/s)", half)):
        results = []
        for _ in range(opts.runs):
            result = saturate(CONFIGS["+ OTLP forward"], opts.seconds, ["--rate", f"{rate:.0f}"])
            record("latency", label, result)
            results.append(result)
        lat = [r["latency_ms"] for r in results]
        print(
            f"| {label} | {spread([l['p50'] for l in lat], '{:.2f}')} "
            f"| {spread([l['p99'] for l in lat], '{:.2f}')} | {spread([l['p999'] for l in lat], '{:.2f}')} |"
        )

    print("\n| memory (+ OTLP forward, at saturation) | peak RSS MiB | RSS at the end MiB |")
    print("|---|---|---|")
    print(f"| 50 sessions, 20 tools | {spread([r['hwm_mib'] for r in forward], '{:.1f}')} "
          f"| {spread([r['rss_mib'] for r in forward], '{:.1f}')} |")
    # 997 tools (prime): every service meets nearly all of them, so 100 x 997 pairs
    # overflow the 50 000-series cap.
    flood = ["--sessions", "10000", "--services", "100", "--tools", "997", "--distinct-requests", "1000"]
    results = []
    for _ in range(opts.runs):
        result = saturate(CONFIGS["+ OTLP forward"], opts.seconds, flood)
        record("memory", "10K sessions, series cap", result)
        results.append(result)
    print(f"| 10K active sessions, 100 services x 997 tools (series cap reached) "
          f"| {spread([r['hwm_mib'] for r in results], '{:.1f}')} "
          f"| {spread([r['rss_mib'] for r in results], '{:.1f}')} |")


def live_overhead(rounds, seconds):
    """Live view on against off, with forwarding. The machine's speed drifts by more than
    the difference from one run to the next, so the two alternate (on, off, off, on, ...)
    and each round's pair is compared: the median of the paired ratios is the figure."""
    on_config, off_config = CONFIGS["+ OTLP forward"], CONFIGS["recognise + RED + forward (live view off)"]
    on, off, lower = [], [], []
    for r in range(rounds):
        order = [(on_config, on), (off_config, off)]
        for config, results in order if r % 2 == 0 else reversed(order):
            results.append(saturate(config, seconds)["spans_per_s"])
        lower.append(1 - on[-1] / off[-1])
        print(f"round {r + 1}/{rounds}: live view on {on[-1]:.0f} spans/s, off {off[-1]:.0f} "
              f"({lower[-1]:.1%} lower)", file=sys.stderr)
    print(f"live view on: {spread(on)} spans/s; off: {spread(off)} spans/s (min / median / max of {rounds})")
    print(f"on lower than off, per round: {spread(lower, '{:.1%}')}; "
          f"median against median {1 - statistics.median(on) / statistics.median(off):.1%}")


def rss_run(seconds):
    """RSS over a long run at saturation: flat means bounded."""
    sink = free_port()
    collector = Collector([f"exporters.jaeger.endpoint=http://127.0.0.1:{sink}"])
    csv_path = os.path.join(ROOT, "target/bench-rss.csv")
    samples = []
    try:
        load_proc = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, LOAD, "--json", "--endpoint", f"http://{collector.grpc}",
             "--duration", f"{seconds}s", "--sink", f"127.0.0.1:{sink}", "--sessions", "10000",
             "--distinct-requests", "1000"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        started = time.time()
        with open(csv_path, "w") as csv:
            csv.write("seconds,rss_mib,open_fds\n")
            while load_proc.poll() is None:
                time.sleep(10)
                if load_proc.poll() is not None:
                    break
                rss = collector.status("VmRSS")
                fds = len(os.listdir(f"/proc/{collector.proc.pid}/fd"))
                samples.append(rss)
                csv.write(f"{time.time() - started:.0f},{rss:.1f},{fds}\n")
                csv.flush()
        result = json.loads(load_proc.stdout.read().strip().splitlines()[-1])
    finally:
        collector.stop()
    steady = samples[len(samples) // 10:] or samples
    print(f"{seconds} s at saturation (+ OTLP forward, 10K sessions): "
          f"{result['spans_per_s']:.0f} spans/s accepted, {result.get('forwarded_spans')} of "
          f"{result['accepted_spans']} forwarded, non-OK {result['non_ok_requests']}")
    print(f"RSS every 10 s ({len(samples)} samples, {csv_path}): min {min(samples):.1f} MiB, "
          f"max {max(samples):.1f} MiB; after the first tenth: {min(steady):.1f}-{max(steady):.1f} MiB "
          f"({(max(steady) - min(steady)) / min(steady):.1%} spread)")


if __name__ == "__main__":
    main()
