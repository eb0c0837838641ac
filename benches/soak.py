"""Soak run: the release binary under a mixed load for a bounded time, every response checked.

Worker threads on 127.0.0.1 mix, for --seconds:
- readers: GET /realm/presence (and single-user presence) as users of a generated realm; each
  body must be Zulip's shape for that realm;
- reporters: POST /users/me/presence as those users; 200 with their own row every time;
- an admin writer: PUT presence rows of another realm through the admin API; the update ids it
  gets back must be consecutive and unique, and the realm's final id must count every write
  (no lost update);
- an admin churner: creates and deletes realms, toggles a setting, reads the journal.
Any status or body that Zulip would not send fails the run. The server's resident memory is
sampled every second: it must stay flat once the journal is full (its end may exceed its value
at a quarter of the run by at most --rss-slack MB).

    python3 benches/soak.py [--seconds 120] [--threads 4]

Prints request counts, error count and the memory curve's start, quarter, end and peak.
"""

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))
from load import free_port, wait_for_200  # noqa: E402

USERS = 50
SOAK_REALM = "soak"
WRITES_REALM = "writes"


def auth(n):
    return "Basic " + base64.b64encode(f"user{n}@example.com:key{n:029d}".encode()).decode()


class Failure(Exception):
    pass


class Client:
    """One keep-alive connection to the mock, reaching realms by path prefix."""

    def __init__(self, port):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, headers=None, expect=(200,)):
        headers = dict(headers or {})
        data = None
        if isinstance(body, dict):
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            text = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise
        if response.status not in expect:
            raise Failure(f"{method} {path}: {response.status} {text[:300]!r}")
        return json.loads(text) if text else None


def check_presence_body(body, realm_users):
    if body.get("result") != "success" or body.get("msg") != "" or not isinstance(body.get("server_timestamp"), float):
        raise Failure(f"not Zulip's envelope: {str(body)[:300]}")
    for email, entry in body["presences"].items():
        if email not in realm_users:
            raise Failure(f"{email} is not a user of this realm")
        website = entry["website"]
        if set(entry) != {"aggregated", "website"} or website["client"] != "website" or website["pushable"] is not False:
            raise Failure(f"not Zulip's legacy shape: {entry}")
        if website["status"] not in ("active", "idle"):
            raise Failure(f"bad status: {entry}")


def reader(port, stop, counts, errors):
    client = Client(port)
    emails = {f"user{n}@example.com" for n in range(1, USERS + 1)}
    n = 0
    while not stop.is_set():
        n = n % USERS + 1
        try:
            body = client.call("GET", f"/__realm/{SOAK_REALM}/api/v1/realm/presence", headers={"Authorization": auth(n)})
            check_presence_body(body, emails)
            one = client.call("GET", f"/__realm/{SOAK_REALM}/api/v1/users/{n % USERS + 1}/presence",
                              headers={"Authorization": auth(n)}, expect=(200, 400))
            if one["result"] == "error" and not one["msg"].startswith("No presence data for"):
                raise Failure(f"single-user presence: {one}")
            counts["reads"] += 2
        except Exception as error:  # noqa: BLE001 - every failure is reported
            errors.append(f"reader: {error}")


def reporter(port, stop, counts, errors):
    client = Client(port)
    n = 0
    while not stop.is_set():
        n = n % USERS + 1
        try:
            body = client.call("POST", f"/__realm/{SOAK_REALM}/api/v1/users/me/presence",
                               body="status=active&slim_presence=true", headers={"Authorization": auth(n)})
            if str(n) not in body["presences"]:
                raise Failure(f"user{n}'s own report is missing: {str(body)[:200]}")
            counts["reports"] += 1
        except Exception as error:  # noqa: BLE001
            errors.append(f"reporter: {error}")


def admin_writer(port, stop, counts, errors, ids):
    client = Client(port)
    n = 0
    while not stop.is_set():
        n = n % 10 + 1
        try:
            row = client.call("PUT", f"/__admin/realms/{WRITES_REALM}/presence/{n}",
                              body={"last_connected_time": "now", "last_active_time": "-5s"})
            ids.append(row["last_update_id"])
            counts["admin writes"] += 1
        except Exception as error:  # noqa: BLE001
            errors.append(f"admin writer: {error}")


def admin_churner(port, stop, counts, errors):
    client = Client(port)
    i = 0
    while not stop.is_set():
        i += 1
        try:
            realm = f"churn{i % 3}"
            client.call("POST", "/__admin/realms", body={"subdomain": realm, "generate": {"users": 20}}, expect=(201, 409))
            client.call("GET", f"/__realm/{realm}/api/v1/realm/presence", headers={"Authorization": auth(1)})
            client.call("DELETE", f"/__admin/realms/{realm}", expect=(204, 404))
            client.call("PATCH", "/__admin/server", body={"CAN_ACCESS_ALL_USERS_GROUP_LIMITS_PRESENCE": i % 2 == 0})
            client.call("GET", "/__admin/requests/count")
            counts["admin churn"] += 5
        except Exception as error:  # noqa: BLE001
            errors.append(f"admin churner: {error}")
        time.sleep(0.01)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--threads", type=int, default=4, help="readers and reporters each")
    parser.add_argument("--rss-slack", type=float, default=8.0, help="MB the memory may grow after the first quarter")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "zulip-presence-mock"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)

    port = free_port()
    server = subprocess.Popen([args.binary, "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_200(port, "/__admin/health", None)
        setup = Client(port)
        setup.call("POST", "/__admin/realms", body={"subdomain": SOAK_REALM, "generate": {"users": USERS, "presence": "idle"}}, expect=(201,))
        setup.call("POST", "/__admin/realms", body={"subdomain": WRITES_REALM, "generate": {"users": 10, "presence": "none"}}, expect=(201,))

        stop = threading.Event()
        counts = {"reads": 0, "reports": 0, "admin writes": 0, "admin churn": 0}
        errors, ids = [], []
        workers = [threading.Thread(target=reader, args=(port, stop, counts, errors)) for _ in range(args.threads)]
        workers += [threading.Thread(target=reporter, args=(port, stop, counts, errors)) for _ in range(args.threads)]
        workers.append(threading.Thread(target=admin_writer, args=(port, stop, counts, errors, ids)))
        workers.append(threading.Thread(target=admin_churner, args=(port, stop, counts, errors)))
        started = time.monotonic()
        for worker in workers:
            worker.start()
        samples = []
        while time.monotonic() - started < args.seconds:
            samples.append(rss_mb(server.pid))
            time.sleep(1)
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        elapsed = time.monotonic() - started

        # No lost update: every admin write took its own id, one after another, and the realm
        # counted them all.
        rows = Client(port).call("GET", f"/__admin/realms/{WRITES_REALM}")
        final_id = rows["presence_last_update_id"]
        if sorted(ids) != list(range(1, len(ids) + 1)) or final_id != len(ids):
            errors.append(f"lost or repeated update ids: {len(ids)} writes, ids {sorted(ids)[:5]}..., final id {final_id}")
        if server.poll() is not None:
            errors.append(f"the server exited with {server.returncode}")
    finally:
        server.terminate()
        server.wait(timeout=10)

    total = sum(counts.values())
    quarter = samples[len(samples) // 4] if samples else 0.0
    print(f"soak: {elapsed:.0f} s, {total:,} requests ({total / elapsed:,.0f}/s): "
          + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    print(f"memory (VmRSS, MB): start {samples[0]:.1f}, at a quarter {quarter:.1f}, end {samples[-1]:.1f}, peak {max(samples):.1f}")
    print(f"errors: {len(errors)}")
    for error in errors[:10]:
        print("  " + error)
    if samples[-1] > quarter + args.rss_slack:
        errors.append("memory grew")
        print(f"memory grew by {samples[-1] - quarter:.1f} MB after the first quarter")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
