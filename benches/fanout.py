"""Fan-out benchmark: how fast one presence change reaches many long-polling clients.

Starts the release binary, creates a realm of 100 users (Zulip sends presence events only to
realms of at most 100 recipients), registers --queues event queues among them, opens one
waiting GET /events per queue on 127.0.0.1, then makes one user come online and measures, for
every poll, the time from that report to its answer. Prints the median, p99 and slowest, and
the resident memory per idle queue.

    python3 benches/fanout.py [--queues 1000] [--rounds 3]
"""

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))
from load import free_port, wait_for_200  # noqa: E402

USERS = 100
REALM = "fan"


def auth(n):
    return "Basic " + base64.b64encode(f"user{n}@example.com:key{n:029d}".encode()).decode()


def call(port, method, path, body=None, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def long_poll(port, user, queue_id, last_event_id):
    """One waiting GET /events; returns the monotonic time its whole answer arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"GET /__realm/{REALM}/api/v1/events?queue_id={queue_id}&last_event_id={last_event_id} HTTP/1.1\r\n"
                  f"Host: 127.0.0.1\r\nAuthorization: {auth(user)}\r\nConnection: close\r\n\r\n").encode())
    await writer.drain()
    data = await reader.read()
    arrived = time.monotonic()
    writer.close()
    if b'"type":"presence"' not in data:
        raise RuntimeError(f"no presence event: {data[:200]!r}")
    return arrived


async def round_trip(port, queues, user_online):
    polls = [asyncio.create_task(long_poll(port, user, queue_id, last)) for user, queue_id, last in queues]
    # Wait until every poll is waiting on its queue.
    while True:
        waiting = sum(1 for q in call(port, "GET", "/__admin/queues") if q["waiting"])
        if waiting >= len(queues):
            break
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await asyncio.to_thread(call, port, "PUT", f"/__admin/realms/{REALM}/presence/{user_online}",
                            json.dumps({"last_connected_time": "now", "last_active_time": "now"}).encode(),
                            {"Content-Type": "application/json"})
    arrivals = await asyncio.gather(*polls)
    return [(arrived - started) * 1000 for arrived in arrivals]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queues", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "zulip-presence-mock"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    port = free_port()
    server = subprocess.Popen([args.binary, "--bind", f"127.0.0.1:{port}", "--journal-size", "0",
                               "--max-connections", str(args.queues + 64)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_200(port, "/__admin/health", None)
        call(port, "POST", "/__admin/realms", json.dumps({"subdomain": REALM, "generate": {"users": USERS, "presence": "none"}}).encode(),
             {"Content-Type": "application/json"})
        before = rss_kib(server.pid)
        queues = []
        for i in range(args.queues):
            user = i % USERS + 1
            body = call(port, "POST", f"/__realm/{REALM}/api/v1/register", b"event_types=%5B%22presence%22%5D",
                        {"Authorization": auth(user), "Content-Type": "application/x-www-form-urlencoded"})
            queues.append([user, body["queue_id"], -1])
        per_queue = (rss_kib(server.pid) - before) * 1024 / args.queues
        latencies = []
        for round_number in range(args.rounds):
            latencies += asyncio.run(round_trip(port, queues, round_number + 1))
            for queue in queues:
                queue[2] += 1  # each queue got one event, id round_number
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"fan-out: {args.queues} long-polling queues of {USERS} users, {args.rounds} presence changes")
        print(f"  time from the change to each answer: median {statistics.median(latencies):.1f} ms, "
              f"p99 {p99:.1f} ms, slowest {latencies[-1]:.1f} ms")
        print(f"  memory per idle queue (registered, not waiting): {per_queue:,.0f} bytes")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
