"""The official terminal client, zulip-term 0.7.0 (pinned in tests/clients/pythons/zulip-term.txt),
run as its README says (`zulip-term -c zuliprc`) under tmux against the release binary on
fixtures/examples/terminal.json, with nothing in between. It must start; its users panel must
show every user with the status zulip-term's own rule derives from the mock's presence; a
presence change made through the admin API must show after the client's next report; on exit
it deletes its queue; and the mock must have answered every request it made (no unserved
endpoint, no fetch type missing from /register).

Needs ZULIP_MOCK_BIN and ZULIP_TERM (the zulip-term executable of a Python 3.9 environment);
tests/clients/terminal/run sets both. Runs about 75 s: zulip-term reports presence once a
minute.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BINARY = os.environ.get("ZULIP_MOCK_BIN", os.path.join(ROOT, "target", "release", "zulip-presence-mock"))
ZULIP_TERM = os.environ["ZULIP_TERM"]
FIXTURE = os.path.join(ROOT, "fixtures", "examples", "terminal.json")
IAGO = ("iago@zulip.com", "huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf")
SESSION = f"zpm-zulip-term-{os.getpid()}"
# zulip-term's rule (zulipterminal/model.py get_all_users): a user listed in `presences` is
# active or idle when a client entry other than "aggregated" is newer than this, else offline;
# a user not listed there is not shown; yourself always comes first.
OFFLINE_THRESHOLD_SECS = 140
MARKERS = {"active": "●", "idle": "◒", "offline": "○"}
NOT_SERVED = "not served by this mock"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ZulipTermTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.site = f"http://127.0.0.1:{cls.port}"
        cls.server = subprocess.Popen(
            [BINARY, "--bind", f"127.0.0.1:{cls.port}", "--fixtures", FIXTURE],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                cls.get("/__admin/health")
                break
            except OSError:
                time.sleep(0.05)
        # zulip-term 0.7.0 has a start-up race: when the answer to its first presence report
        # comes back before its main loop has made the pipe its threads redraw through, the
        # presence thread dies (`assert hasattr(self, "_update_pipe")` in core.py) and it never
        # reports again. A fault delays that first answer by 2 s, as a slow network would.
        cls.admin("POST", "/__admin/faults", {
            "method": "POST", "path": "/api/v1/users/me/presence", "delay_ms": 2000, "times": 1,
        })
        cls.home = tempfile.mkdtemp()
        zuliprc = os.path.join(cls.home, "zuliprc")
        with open(zuliprc, "w") as f:
            f.write(f"[api]\nemail={IAGO[0]}\nkey={IAGO[1]}\nsite={cls.site}\n")
        os.chmod(zuliprc, 0o600)  # zulip-term refuses a zuliprc others can read
        subprocess.run(["tmux", "kill-session", "-t", SESSION], stderr=subprocess.DEVNULL)
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", SESSION, "-x", "160", "-y", "40", "-c", cls.home,
             # zulip-term's threads print their exceptions on stderr, over the screen: keep
             # them apart, and show them when the test fails.
             f"{ZULIP_TERM} -c {zuliprc} 2>stderr.log; echo ZULIP_TERM_EXITED; sleep 60"],
            check=True, env={**os.environ, "LANG": "C.UTF-8"},
        )

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["tmux", "kill-session", "-t", SESSION], stderr=subprocess.DEVNULL)
        cls.server.terminate()
        cls.server.wait(timeout=10)
        shutil.rmtree(cls.home, ignore_errors=True)

    @classmethod
    def get(cls, path, credentials=None):
        request = urllib.request.Request(f"http://127.0.0.1:{cls.port}{path}")
        if credentials:
            request.add_header("Authorization", "Basic " + base64.b64encode(":".join(credentials).encode()).decode())
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    @classmethod
    def admin(cls, method, path, body):
        request = urllib.request.Request(
            f"http://127.0.0.1:{cls.port}{path}", method=method, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION], capture_output=True, text=True).stdout

    def users_panel(self):
        """The users panel's rows, (marker, name), from the right column of the screen."""
        rows, inside = [], False
        for line in self.screen().splitlines():
            column = line.rsplit("│", 1)[-1].strip() if "│" in line else ""
            if "Users" in line and "━" in line:
                inside = True
                continue
            marker, _, name = column.partition(" ")
            if inside and marker in ("●", "◒", "○", "•"):
                rows.append((marker, name.replace("(you)", "").strip()))
        return rows

    def wait_for(self, what, condition, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.25)
        with open(os.path.join(self.home, "stderr.log")) as f:
            stderr = f.read()
        self.fail(f"{what} within {seconds} s; the screen:\n{self.screen()}\nzulip-term's stderr:\n{stderr}")

    def expected_panel(self):
        """The panel zulip-term's rule gives for the mock's presence as Iago sees it now."""
        presences = self.get("/api/v1/realm/presence", IAGO)["presences"]
        members = self.get("/api/v1/users", IAGO)["members"]
        now = time.time()
        me, others = None, {"active": [], "idle": [], "offline": []}
        for user in members:
            if user["email"] == IAGO[0]:
                me = ("●", user["full_name"])
                continue
            entries = presences.get(user["email"])
            if not entries:
                continue
            status = "offline"
            for client, entry in entries.items():
                if client != "aggregated" and now - entry["timestamp"] < OFFLINE_THRESHOLD_SECS:
                    if entry["status"] == "active" or status == "offline":
                        status = entry["status"]
            others[status].append(user["full_name"])
        rows = [me]
        for status in ("active", "idle", "offline"):
            rows += [(MARKERS[status], name) for name in sorted(others[status], key=str.casefold)]
        return rows

    def reports(self):
        journal = self.get(f"/__admin/requests?path=/api/v1/users/me/presence&user={IAGO[0]}")
        return journal["requests"]

    def test_it_starts_shows_the_users_panel_follows_presence_and_needs_nothing_unserved(self):
        self.wait_for("the first presence report", self.reports, 30)
        self.wait_for("the users panel", lambda: self.users_panel() == self.expected_panel(), 30)
        self.assertEqual(
            self.users_panel(),
            [("●", "Iago"), ("●", "Ann Active"), ("◒", "Ian Idle"), ("○", "Olga Old")],
        )

        # Olga comes back; zulip-term learns it from its next report's answer (once a minute).
        self.admin("PUT", "/__admin/realms/_root/presence/4", {"last_connected_time": "now", "last_active_time": "now"})
        self.wait_for("the next presence report", lambda: len(self.reports()) >= 2, 75)
        self.wait_for("Olga shown active", lambda: self.users_panel() == self.expected_panel(), 10)
        self.assertEqual(
            self.users_panel(),
            [("●", "Iago"), ("●", "Ann Active"), ("●", "Olga Old"), ("◒", "Ian Idle")],
        )
        self.assertEqual(self.reports()[0]["params"], {"status": "active", "new_user_input": "true"})

        subprocess.run(["tmux", "send-keys", "-t", SESSION, "C-c"], check=True)
        self.wait_for("zulip-term to exit", lambda: "ZULIP_TERM_EXITED" in self.screen(), 10)
        journal = self.get("/__admin/requests")["requests"]
        requests = [(e["method"], e["path"]) for e in journal]
        for needed in [("GET", "/api/v1/server_settings"), ("GET", "/api/v1/messages"),
                       ("POST", "/api/v1/register"), ("GET", "/api/v1/events"),
                       ("DELETE", "/api/v1/events")]:
            self.assertIn(needed, requests)
        unserved = [e for e in journal if e["note"] and NOT_SERVED in e["note"]]
        self.assertEqual(unserved, [])
        register = next(e for e in journal if e["path"] == "/api/v1/register")
        self.assertEqual((register["status"], register["note"]), (200, None))
        # Every answer was a success, but for the long-poll still waiting when the client
        # deleted its queue on exit: Zulip answers that one BAD_EVENT_QUEUE_ID, as the mock does.
        polls = [e for e in journal if e["path"] == "/api/v1/events" and e["method"] == "GET"]
        failed = [(e["method"], e["path"], e["status"]) for e in journal if e["status"] != 200]
        self.assertIn(failed, ([], [("GET", "/api/v1/events", 400)]))
        if failed:
            self.assertEqual(max(polls, key=lambda e: e["time"])["status"], 400)


if __name__ == "__main__":
    unittest.main()
