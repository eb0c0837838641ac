#!/usr/bin/env python3
"""Memory attacks on the release binary, each checked against a generous bound.

1. journal: unauthenticated presence reports with 50,000 form parameters (about 440 KB) and a
   60 KB User-Agent each; the journal must stay within its byte capacity.
2. queues: never-polled event queues on a 100-user realm, then admin presence changes that
   send each of them an event; the queued events must stay within their byte capacity.
3. give-back: a generated realm of many users, deleted; the memory must go back to the
   system.

It prints the resident memory (VmRSS) before and after each, and fails when a bound is
crossed. Bounds are far above what a fixed server takes and far below what an unbounded one
took (issue 21's figures), so a noisy machine does not make them flaky. No timing is checked.

    python3 benches/attacks.py            # the figures in CONTRIBUTING.md
    python3 benches/attacks.py --smoke    # smaller counts, as tests/run runs it
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))
from load import free_port, wait_for_200  # noqa: E402
from soak import Client, auth, rss_mb  # noqa: E402


class Server:
    def __init__(self, binary):
        self.port = free_port()
        self.process = subprocess.Popen([binary, "--bind", f"127.0.0.1:{self.port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_200(self.port, "/__admin/health", None)

    def rss(self):
        return rss_mb(self.process.pid)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.process.terminate()
        self.process.wait(timeout=30)


def check(failures, what, ok):
    if not ok:
        failures.append(what)
    print(f"  {'ok' if ok else 'FAILED'}: {what}")


def journal_attack(binary, requests, failures):
    with Server(binary) as server:
        client = Client(server.port)
        start = server.rss()
        body = "&".join(f"p{i}=x" for i in range(50_000))
        headers = {"User-Agent": "U" * 60_000}
        for _ in range(requests):
            client.call("POST", "/api/v1/users/me/presence", body=body, headers=headers, expect=(401,))
        after = server.rss()
        listing = client.call("GET", "/__admin/requests?limit=1")
        print(f"journal: {requests} unauthenticated reports of {len(body):,} bytes: "
              f"RSS {start:.1f} MB before, {after:.1f} MB after; journal {listing['bytes']:,} bytes "
              f"of {listing['capacity_bytes']:,}")
        check(failures, "the journal stays within its capacity", listing["bytes"] <= listing["capacity_bytes"])
        # Unbounded, each request kept about 8.8 MB.
        check(failures, f"the server grew by less than 1 MB a request ({after - start:.1f} MB)",
              after - start < requests * 1.0)
        client.call("DELETE", "/__admin/requests")
        cleared = server.rss()
        print(f"  after clearing the journal: RSS {cleared:.1f} MB")
        check(failures, "clearing the journal gives its memory back", cleared - start < (after - start) / 2 + 4)


def queue_attack(binary, queues, changes, failures):
    with Server(binary) as server:
        client = Client(server.port)
        realm = "queues"
        client.call("POST", "/__admin/realms", body={"subdomain": realm, "generate": {"users": 100, "presence": "none"}},
                    expect=(201,))
        start = server.rss()
        for n in range(queues):
            user = n % 100 + 1
            client.call("POST", f"/__realm/{realm}/api/v1/register", body="event_types=%5B%22presence%22%5D",
                        headers={"Authorization": auth(user)})
        registered = server.rss()
        for n in range(changes):
            client.call("PUT", f"/__admin/realms/{realm}/presence/{n % 100 + 1}",
                        body={"last_connected_time": "now", "last_active_time": "now"})
        changed = server.rss()
        usage = client.call("GET", "/__admin/queues/usage")
        print(f"queues: {queues:,} never-polled queues: RSS {start:.1f} MB before, {registered:.1f} MB registered "
              f"({(registered - start) * 1024 * 1024 / queues:,.0f} bytes a queue); after {changes} presence "
              f"changes {changed:.1f} MB, {usage['queues']:,} queues left, events {usage['bytes']:,} bytes "
              f"of {usage['capacity_bytes']:,}")
        check(failures, "the queued events stay within their capacity", usage["bytes"] <= usage["capacity_bytes"])
        # Unbounded, 10,000 queues and 400 changes took 10.2 GB.
        check(failures, f"the events took less than 2.5 times their capacity ({changed - registered:.1f} MB)",
              (changed - registered) * 1024 * 1024 < 2.5 * usage["capacity_bytes"])
        client.call("POST", "/__admin/reset")
        reset = server.rss()
        print(f"  after a reset: RSS {reset:.1f} MB")
        check(failures, f"a reset gives the queues' memory back ({reset:.1f} MB, {changed:.1f} MB before)",
              reset - start < (changed - start) / 2 + 4)


def give_back(binary, users, failures):
    with Server(binary) as server:
        client = Client(server.port)
        start = server.rss()
        client.call("POST", "/__admin/realms", body={"subdomain": "big", "generate": {"users": users, "presence": "active"}},
                    expect=(201,))
        client.call("GET", "/__realm/big/api/v1/realm/presence", headers={"Authorization": auth(1)})
        full = server.rss()
        client.call("DELETE", "/__admin/realms/big", expect=(204,))
        freed = server.rss()
        print(f"give-back: a realm of {users:,} users: RSS {start:.1f} MB before, {full:.1f} MB with it, "
              f"{freed:.1f} MB once deleted")
        check(failures, "deleting the realm gives at least half its memory back",
              freed - start < (full - start) / 2 + 4)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="smaller counts (tests/run)")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "zulip-presence-mock"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    failures = []
    if args.smoke:
        journal_attack(args.binary, 60, failures)
        queue_attack(args.binary, 2_000, 100, failures)
        give_back(args.binary, 50_000, failures)
    else:
        journal_attack(args.binary, 300, failures)
        queue_attack(args.binary, 10_000, 400, failures)
        give_back(args.binary, 200_000, failures)
    if failures:
        sys.exit("attacks: FAILED: " + "; ".join(failures))
    print("attacks: every bound held")


if __name__ == "__main__":
    main()
