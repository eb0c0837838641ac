"""Load benchmark: zulip-presence-mock against a static-bytes hyper server, in one run.

For each realm size, starts the release binary on a generated fixture and, beside it, the
baseline (benches/static_baseline.rs) serving the very same body; drives each with wrk
(-t2 -c50) on 127.0.0.1 for a bounded time; prints requests/s, p50/p99 latency, peak RSS and
the ratio to the baseline. Then cold start (spawn to the first 200, median of several runs),
idle memory, and a 100,000-user fixture's load time and memory.

    python3 benches/load.py [--seconds 5] [--rounds 3] [--sizes 10,1000,10000]
                            [--compare before=/path/to/an/older/build] [--peers] [--pin]

Needs wrk (Debian package wrk) and cargo. Only 127.0.0.1 is used. Figures are ratios measured
in the same run: compare them, not the absolute numbers, across machines.
"""

import argparse
import base64
import json
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))
from generate_fixture import fixture  # noqa: E402

PRESENCE = "/api/v1/realm/presence"
AUTH = "Basic " + base64.b64encode(f"user1@example.com:{1:032d}".encode()).decode()


def build():
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode != 0:
        sys.exit("load.py needs wrk: apt-get install wrk")
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    # The baseline is a bench: building it builds the binary too, with the dev-dependencies'
    # features (tokio's test-util...). In a target folder of its own, it leaves alone the
    # release binary measured here, the one users build.
    out = subprocess.run(
        ["cargo", "bench", "--bench", "static_baseline", "--no-run", "--locked", "--message-format=json", "--quiet",
         "--target-dir", os.path.join(ROOT, "target", "baseline")],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    baseline = [json.loads(line)["executable"] for line in out.splitlines()
                if '"executable"' in line and json.loads(line).get("target", {}).get("name") == "static_baseline"]
    return os.path.join(ROOT, "target", "release", "zulip-presence-mock"), baseline[-1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, auth=None, timeout=5.0):
    """One HTTP/1.1 GET; returns (status, body) or None if nothing listens yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            if auth:
                head += f"Authorization: {auth}\r\n"
            s.sendall((head + "\r\n").encode())
            data = b""
            while chunk := s.recv(1 << 20):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def wait_for_200(port, path, auth, deadline=20.0):
    start = time.perf_counter()
    while time.perf_counter() - start < deadline:
        answer = get(port, path, auth)
        if answer and answer[0] == 200:
            return answer[1]
        time.sleep(0.0005)
    raise RuntimeError(f"no 200 from port {port} within {deadline} s")


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# With --pin, servers run on core 0 and wrk on core 1 (taskset), so that they do not take turns
# on one core.
SERVER_CPU = []
CLIENT_CPU = []


def wrk(port, seconds):
    out = subprocess.run(
        [*CLIENT_CPU, "wrk", "-t2", "-c50", f"-d{seconds}s", "--latency", "-H", f"Authorization: {AUTH}",
         f"http://127.0.0.1:{port}{PRESENCE}"],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def latency(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return rps, latency(50), latency(99)


def start(argv):
    return subprocess.Popen([*SERVER_CPU, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# httpmock, a widely used Rust mock server, in its standalone form: the peer the mock should be
# ahead of (--peers). Installed pinned, beside the other tools tests/run installs.
HTTPMOCK_VERSION = "0.9.0"


def httpmock_binary():
    tools = os.environ.get("ZULIP_MOCK_TOOLS", os.path.join(ROOT, "target", "tools"))
    binary = os.path.join(tools, "bin", "httpmock")
    if not os.path.exists(binary):
        subprocess.run(["cargo", "install", "--quiet", "--locked", "--root", tools, "httpmock",
                        "--version", HTTPMOCK_VERSION, "--features", "standalone"], check=True)
    return binary


def start_httpmock(binary, body_path, tmp, users):
    """httpmock serving `body_path` from a static mock that checks the Authorization header."""
    mocks = os.path.join(tmp, f"httpmock-{users}")
    os.makedirs(mocks, exist_ok=True)
    # httpmock reads a body only from a path relative to its mock directory.
    shutil.copyfile(body_path, os.path.join(mocks, "body.json"))
    with open(os.path.join(mocks, "presence.yaml"), "w") as f:
        f.write(f"""when:
  method: GET
  path: {PRESENCE}
  header:
    - name: Authorization
      value: {AUTH}
then:
  status: 200
  header:
    - name: Content-Type
      value: application/json
  body_from_file: body.json
""")
    port = free_port()
    process = start([binary, "--port", str(port), "--mock-files-dir", mocks])
    wait_for_200(port, PRESENCE, AUTH)
    return process, port


def stop(process):
    process.terminate()
    process.wait(timeout=10)


# Extra arguments for the mock (--mock-args).
MOCK_ARGS = []

# Other builds of the mock to load beside it (--compare NAME=BINARY), e.g. the previous commit.
COMPARE = []

# httpmock's binary when --peers is on.
PEERS = {}


def without_timestamp(body):
    """A realm presence body without its `server_timestamp`, which moves with the clock."""
    return re.sub(rb'"server_timestamp":[0-9.]+', b"", body)


def load_run(mock, baseline, users, seconds, rounds, tmp):
    fixture_path = os.path.join(tmp, f"fixture-{users}.json")
    with open(fixture_path, "w") as f:
        json.dump(fixture(users), f)
    port = free_port()
    ours = start([mock, "--bind", f"127.0.0.1:{port}", "--fixtures", fixture_path, *MOCK_ARGS])
    body = wait_for_200(port, PRESENCE, AUTH)
    body_path = os.path.join(tmp, f"body-{users}.json")
    with open(body_path, "wb") as f:
        f.write(body)
    base_port = free_port()
    base = start([baseline, "--bind", f"127.0.0.1:{base_port}", "--body", body_path])
    wait_for_200(base_port, PRESENCE, AUTH)
    others = []
    for name, binary in COMPARE:
        other_port = free_port()
        other = start([binary, "--bind", f"127.0.0.1:{other_port}", "--fixtures", fixture_path, *MOCK_ARGS])
        other_body = wait_for_200(other_port, PRESENCE, AUTH)
        if without_timestamp(other_body) != without_timestamp(body):
            raise RuntimeError(f"{name} answers another body than zulip-presence-mock")
        others.append((name, other, other_port))
    if "httpmock" in PEERS:
        peer, peer_port = start_httpmock(PEERS["httpmock"], body_path, tmp, users)
        others.append(("httpmock", peer, peer_port))
    try:
        # Alternate the servers over several rounds and keep the medians, so that the
        # machine's drift does not favour whichever ran first.
        servers = [("baseline", base, base_port), ("zulip-presence-mock", ours, port), *others]
        runs = {name: [] for name, _, _ in servers}
        for round_number in range(rounds):
            for name, _, p in servers[::1 if round_number % 2 == 0 else -1]:
                runs[name].append(wrk(p, seconds))
        rows = {}
        for name, process, _ in servers:
            rps, p50, p99 = (statistics.median(values) for values in zip(*runs[name]))
            rows[name] = (rps, p50, p99, rss_kib(process.pid, "VmHWM") / 1024)
    finally:
        stop(ours)
        stop(base)
        for _, other, _ in others:
            stop(other)
    return len(body), rows


def idle_memory(mock, users, tmp):
    """RSS in MB of each server idle after start-up and two realm presence requests, on the
    fixture of `users` users (the body of load_run's fixture for httpmock)."""
    fixture_path = os.path.join(tmp, f"fixture-{users}.json")
    body_path = os.path.join(tmp, f"body-{users}.json")
    servers = [("zulip-presence-mock", mock), *COMPARE]
    figures = {}
    for name, binary in servers:
        port = free_port()
        process = start([binary, "--bind", f"127.0.0.1:{port}", "--fixtures", fixture_path, *MOCK_ARGS])
        figures[name] = settled_rss(process, port)
    if "httpmock" in PEERS:
        process, port = start_httpmock(PEERS["httpmock"], body_path, tmp, users)
        figures["httpmock"] = settled_rss(process, port)
    return figures


def settled_rss(process, port):
    try:
        wait_for_200(port, PRESENCE, AUTH)
        wait_for_200(port, PRESENCE, AUTH)
        time.sleep(1.0)  # what a server gives back after a request, it gives back by then
        return rss_kib(process.pid, "VmRSS") / 1024
    finally:
        stop(process)


def cold_start(argv_for_port, path, auth, runs):
    times = []
    for _ in range(runs):
        port = free_port()
        begin = time.perf_counter()
        process = start(argv_for_port(port))
        wait_for_200(port, path, auth)
        times.append((time.perf_counter() - begin) * 1000)
        stop(process)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per server and size")
    parser.add_argument("--sizes", default="10,1000,10000", help="realm sizes to load")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per server and size (median)")
    parser.add_argument("--runs", type=int, default=7, help="cold-start runs (median)")
    parser.add_argument("--big", type=int, default=100_000, help="users of the large fixture")
    parser.add_argument("--mock-args", default="",
                        help="extra arguments for zulip-presence-mock, e.g. '--journal-size 0'")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=BINARY",
                        help="also load another build of the mock, e.g. before=/path/to/old/binary")
    parser.add_argument("--peers", action="store_true",
                        help=f"also load httpmock {HTTPMOCK_VERSION} (installed pinned when missing)")
    parser.add_argument("--pin", action="store_true",
                        help="servers on core 0, wrk on core 1 (taskset)")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick run that only proves the script works (tests/run uses it)")
    args = parser.parse_args()
    MOCK_ARGS.extend(shlex.split(args.mock_args))
    COMPARE.extend(tuple(pair.split("=", 1)) for pair in args.compare)
    if args.pin:
        SERVER_CPU.extend(["taskset", "-c", "0"])
        CLIENT_CPU.extend(["taskset", "-c", "1"])
    if args.peers:
        PEERS["httpmock"] = httpmock_binary()
    if args.smoke:
        args.seconds, args.rounds, args.runs, args.sizes, args.big = 1, 1, 3, "10,1000", 10_000
    mock, baseline = build()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        print(f"wrk -t2 -c50 -d{args.seconds}s on 127.0.0.1, authenticated GET {PRESENCE}, "
              f"median of {args.rounds} alternating rounds\n")
        peer = "httpmock" if PEERS else None
        print("| users | body bytes | server | requests/s | p50 ms | p99 ms | peak RSS MB | ratio to baseline |"
              + (" ratio to httpmock |" if peer else ""))
        print("|---:|---:|---|---:|---:|---:|---:|---:|" + ("---:|" if peer else ""))
        for users in sizes:
            size, rows = load_run(mock, baseline, users, args.seconds, args.rounds, tmp)
            base_rps = rows["baseline"][0]
            for name, (rps, p50, p99, rss) in rows.items():
                print(f"| {users:,} | {size:,} | {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {rss:.1f} | "
                      f"{rps / base_rps:.2f} |" + (f" {rps / rows[peer][0]:.2f} |" if peer else ""))
        sys.stdout.flush()

        print("\nIdle RSS after start-up and two realm presence requests (MB):")
        for users in sizes:
            figures = idle_memory(mock, users, tmp)
            ours = figures["zulip-presence-mock"]
            line = ", ".join(f"{name} {mb:.1f}" for name, mb in figures.items())
            if peer:
                line += f"; mock / httpmock {ours / figures[peer]:.2f}"
            print(f"- {users:,} users: {line}")
        sys.stdout.flush()

        # Cold start: the default fixture, against the baseline serving the same body.
        port = free_port()
        ours = start([mock, "--bind", f"127.0.0.1:{port}"])
        default_auth = "Basic " + base64.b64encode(b"iago@zulip.com:huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf").decode()
        body = wait_for_200(port, PRESENCE, default_auth)
        time.sleep(0.2)
        idle_rss = rss_kib(ours.pid, "VmRSS") / 1024
        stop(ours)
        body_path = os.path.join(tmp, "default-body.json")
        with open(body_path, "wb") as f:
            f.write(body)
        ours_ms = cold_start(lambda p: [mock, "--bind", f"127.0.0.1:{p}"], PRESENCE, default_auth, args.runs)
        base_ms = cold_start(lambda p: [baseline, "--bind", f"127.0.0.1:{p}", "--body", body_path],
                             PRESENCE, default_auth, args.runs)
        print(f"\nCold start, spawn to first 200 (median of {args.runs}): zulip-presence-mock {ours_ms:.1f} ms, "
              f"baseline {base_ms:.1f} ms, ratio {ours_ms / base_ms:.2f}")
        print(f"Idle RSS with the default fixture: {idle_rss:.1f} MB")

        # A large realm: start-up (fixture load included) and memory.
        path = os.path.join(tmp, f"fixture-{args.big}.json")
        with open(path, "w") as f:
            json.dump(fixture(args.big), f)
        port = free_port()
        begin = time.perf_counter()
        big = start([mock, "--bind", f"127.0.0.1:{port}", "--fixtures", path])
        wait_for_200(port, "/api/v1/server_settings", None, deadline=60)
        ready_ms = (time.perf_counter() - begin) * 1000
        wait_for_200(port, PRESENCE, AUTH, deadline=60)
        big_rss = rss_kib(big.pid, "VmHWM") / 1024
        stop(big)
        print(f"{args.big:,} users: spawn to first 200 (fixture load included) {ready_ms:.0f} ms; "
              f"peak RSS after serving realm presence {big_rss:.1f} MB")


if __name__ == "__main__":
    main()
