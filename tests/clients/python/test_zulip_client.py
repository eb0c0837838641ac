"""The real Python `zulip` client (0.9.1) against the release binary.

Run by tests/run; needs ZULIP_MOCK_BIN (the binary) and the client installed. The server runs
on a free port with the default fixture, its relative times made absolute here so that every
expected timestamp is exact. With ZULIP_MOCK_SITE (and ZULIP_MOCK_NOW), the suite checks a
server started elsewhere instead, such as the Docker image (tests/docker/run). With
ZULIP_MOCK_FEATURE_LEVEL, the server runs at that feature level and every expectation follows
the level (tests/run runs the suite at 160, 200 and the latest level).
"""

import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

import zulip

from fixture_at import ROOT, default_fixture_at

BINARY = os.environ.get("ZULIP_MOCK_BIN", os.path.join(ROOT, "target", "release", "zulip-presence-mock"))
# A server started elsewhere (e.g. a container) serving default_fixture_at(ZULIP_MOCK_NOW).
EXTERNAL_SITE = os.environ.get("ZULIP_MOCK_SITE")
NOW = int(os.environ.get("ZULIP_MOCK_NOW") or time.time())
# The server's feature level (docs/feature-levels.md), and what changes with it.
LEVEL = int(os.environ.get("ZULIP_MOCK_FEATURE_LEVEL") or 509)
VERSION = {160: "7.0-dev+git", 200: "8.0-dev+git", 509: "12.0-dev+git"}[LEVEL]
LISTS_IGNORED_PARAMETERS = LEVEL >= 167
REPORTS_CLIENTS = LEVEL < 178
ACCESS_LIMIT = LEVEL >= 228
HAS_LAST_UPDATE_ID = LEVEL >= 263

IAGO = ("iago@zulip.com", "huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf")
HAMLET = ("hamlet@zulip.com", "j4PTTKtb2TxxDBfz5LJF3hBGZW3M4Fz6")
CORDELIA = ("cordelia@zulip.com", "4hOSDRET79IqJzQtJZPGSEZ4zBms1rac")
ZOE = ("ZOE@zulip.com", "dC3WPmETR4biPHnY4H59ikQ2lyrBIA3f")
POLONIUS = ("polonius@zulip.com", "6afaCLI71fNYmphNcWI9rQWOwjauQLKX")
OPHELIA = ("ophelia@zulip.com", "783FSU8iIoELi9M4SGsfAQk7iYY6LtGA")
WELCOME_BOT = ("welcome-bot@zulip.com", "yZjHZmya9gy4ed1wPw7X8bbGEuRtCu6h")


def legacy(status, timestamp):
    return {
        "aggregated": {"client": "website", "status": status, "timestamp": timestamp},
        "website": {"client": "website", "status": status, "timestamp": timestamp, "pushable": False},
    }


EVERYONE = {
    "cordelia@zulip.com": legacy("active", NOW - 7 * 86400),
    "desdemona@zulip.com": legacy("idle", NOW - 300),
    "hamlet@zulip.com": legacy("active", NOW - 80),
    "iago@zulip.com": legacy("active", NOW - 10),
    "othello@zulip.com": legacy("idle", NOW - 20),
    "polonius@zulip.com": legacy("active", NOW - 40),
    "user11@zulip.localhost": legacy("idle", NOW - 7200),
}

server = None
site = None
fixture_path = None


def start_server(now):
    """Starts the binary on a free port serving default_fixture_at(now); returns it, its
    site and its fixture file."""
    fixture_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(default_fixture_at(now), fixture_file)
    fixture_file.close()
    level = ["--feature-level", str(LEVEL)] if "ZULIP_MOCK_FEATURE_LEVEL" in os.environ else []
    process = subprocess.Popen(
        [BINARY, "--bind", "127.0.0.1:0", "--log-format", "json", "--fixtures", fixture_file.name, *level],
        stdout=subprocess.PIPE,
        text=True,
    )
    address = None
    for line in process.stdout:
        log = json.loads(line)
        if log["fields"].get("message") == "listening":
            address = log["fields"]["addr"]
            break
    if address is None:
        raise RuntimeError("the server did not report its address")
    # Keep reading so that a full pipe never blocks the server.
    process.reader = threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True)
    process.reader.start()
    return process, "http://" + address, fixture_file.name


def stop_server(process, fixture_path):
    process.terminate()
    assert process.wait(timeout=5) == 0
    process.reader.join(timeout=5)
    process.stdout.close()
    os.unlink(fixture_path)


def setUpModule():
    global server, site, fixture_path
    if EXTERNAL_SITE:
        site = EXTERNAL_SITE
        return
    server, site, fixture_path = start_server(NOW)


def tearDownModule():
    if server is not None:
        stop_server(server, fixture_path)


def client(credentials, at=None):
    email, api_key = credentials
    return zulip.Client(email=email, api_key=api_key, site=at or site, retry_on_errors=False)


class RealmPresenceTest(unittest.TestCase):
    def assert_presence_response(self, result, presences, before, after, **extra):
        server_timestamp = result.pop("server_timestamp")
        self.assertIsInstance(server_timestamp, float)
        self.assertGreaterEqual(server_timestamp, before - 0.001)
        self.assertLessEqual(server_timestamp, after + 0.001)
        self.assertEqual(result, {"result": "success", "msg": "", "presences": presences, **extra})

    def test_the_constructor_reads_the_server_version_from_server_settings(self):
        c = client(IAGO)
        self.assertEqual(c.zulip_version, VERSION)
        self.assertEqual(c.feature_level, LEVEL)

    def test_get_realm_presence_returns_the_realm_as_zulip_would(self):
        c = client(IAGO)
        before = time.time()
        result = c.get_realm_presence()
        self.assert_presence_response(result, EVERYONE, before, time.time())

    def test_a_bot_gets_the_same_presence(self):
        c = client(WELCOME_BOT)
        before = time.time()
        result = c.get_realm_presence()
        self.assert_presence_response(result, EVERYONE, before, time.time())

    def test_a_limited_guest_sees_only_accessible_users(self):
        c = client(POLONIUS)
        before = time.time()
        result = c.get_realm_presence()
        accessible = ["cordelia@zulip.com", "hamlet@zulip.com", "othello@zulip.com", "polonius@zulip.com"]
        expected = {email: EVERYONE[email] for email in accessible} if ACCESS_LIMIT else EVERYONE
        self.assert_presence_response(result, expected, before, time.time())

    def test_unknown_parameters_are_listed_as_ignored(self):
        c = client(IAGO)
        before = time.time()
        result = c.call_endpoint(url="realm/presence", method="GET",
                                 request={"zeta": "x", "slim_presence": True, "client": "ours"})
        ignored = {"ignored_parameters_unsupported": ["slim_presence", "zeta"]} if LISTS_IGNORED_PARAMETERS else {}
        self.assert_presence_response(result, EVERYONE, before, time.time(), **ignored)

    def test_a_wrong_key_gets_zulips_401_body(self):
        c = zulip.Client(email="iago@zulip.com", api_key="A" * 32, site=site, retry_on_errors=False)
        self.assertEqual(c.get_realm_presence(),
                         {"result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED"})

    def test_a_malformed_key_gets_zulips_401_body(self):
        c = zulip.Client(email="iago@zulip.com", api_key="short", site=site, retry_on_errors=False)
        self.assertEqual(c.get_realm_presence(),
                         {"result": "error", "msg": "Malformed API key", "code": "UNAUTHORIZED"})

    def test_a_deactivated_user_is_refused(self):
        c = client(OPHELIA)
        self.assertEqual(c.get_realm_presence(),
                         {"result": "error", "msg": "Account is deactivated", "code": "UNAUTHORIZED"})

    def test_posting_to_realm_presence_is_method_not_allowed(self):
        c = client(IAGO)
        self.assertEqual(c.call_endpoint(url="realm/presence", method="POST", request={}),
                         {"result": "error", "msg": "Method Not Allowed", "allowed_methods": ["GET", "HEAD"]})



class PresenceUpdateTest(unittest.TestCase):
    """Reports change the state: each test gets a server of its own (always the local binary)."""

    def setUp(self):
        self.now = int(time.time())
        self.server, self.site, self.fixture_path = start_server(self.now)

    def tearDown(self):
        stop_server(self.server, self.fixture_path)

    def test_update_presence_reports_active_and_another_client_sees_it(self):
        # Hamlet was last active 80 s ago: an active report moves both times to now.
        before = int(time.time())
        result = client(HAMLET, self.site).update_presence(
            {"status": "active", "ping_only": False, "new_user_input": True})
        after = int(time.time())
        reported = result["presences"]["hamlet@zulip.com"]
        if REPORTS_CLIENTS:
            # Before feature level 178 each client has its entry: the client's own report
            # (named by its User-Agent) next to the web app's older one.
            timestamp = reported["ZulipPython"]["timestamp"]
            self.assertEqual(reported, {
                "aggregated": {"client": "ZulipPython", "status": "active", "timestamp": timestamp},
                "website": legacy("active", self.now - 80)["website"],
                "ZulipPython": {"client": "ZulipPython", "status": "active", "timestamp": timestamp,
                                "pushable": False},
            })
        else:
            timestamp = reported["website"]["timestamp"]
            self.assertEqual(reported, legacy("active", timestamp))
        self.assertTrue(before <= timestamp <= after, (before, timestamp, after))
        self.assertEqual(result["result"], "success")
        if HAS_LAST_UPDATE_ID:
            self.assertEqual(result["presence_last_update_id"], 12)
        else:
            self.assertNotIn("presence_last_update_id", result)
        seen = client(IAGO, self.site).get_realm_presence()
        self.assertEqual(seen["presences"]["hamlet@zulip.com"], reported)

    def test_ping_only_gets_just_success(self):
        result = client(HAMLET, self.site).update_presence({"status": "idle", "ping_only": True})
        self.assertEqual(result, {"result": "success", "msg": ""})

    def test_a_bad_status_and_a_bot_get_zulips_errors(self):
        self.assertEqual(client(HAMLET, self.site).update_presence({"status": "away"}),
                         {"result": "error", "msg": "Invalid status: away", "code": "BAD_REQUEST"})
        self.assertEqual(client(WELCOME_BOT, self.site).update_presence({"status": "active"}),
                         {"result": "error", "msg": "This endpoint does not accept bot requests.",
                          "code": "BAD_REQUEST"})

    def test_get_user_presence_returns_one_users_presence(self):
        before = time.time()
        result = client(IAGO, self.site).get_user_presence("othello@zulip.com")
        legacy_part = {
            "aggregated": {"status": "idle", "timestamp": self.now - 20},
            "website": {"status": "idle", "timestamp": self.now - 20},
        }
        if LEVEL >= 497:
            server_timestamp = result.pop("server_timestamp")
            self.assertTrue(before - 0.001 <= server_timestamp <= time.time() + 0.001)
            presence = {"active_timestamp": self.now - 200, "idle_timestamp": self.now - 20, **legacy_part}
        else:
            presence = legacy_part
        self.assertEqual(result, {"result": "success", "msg": "", "presence": presence})
        self.assertEqual(client(IAGO, self.site).get_user_presence("nobody@zulip.com"),
                         {"result": "error", "msg": "No such user", "code": "BAD_REQUEST"})

    def test_polling_with_last_update_id_returns_only_changes(self):
        # Zoe has presence_enabled off, so her own reports never change anything: a pure poller.
        zoe, cordelia = client(ZOE, self.site), client(CORDELIA, self.site)
        if not HAS_LAST_UPDATE_ID:
            # New in feature level 263: before, an unknown parameter, ignored.
            result = zoe.update_presence({"status": "idle", "last_update_id": -1})
            self.assertNotIn("presence_last_update_id", result)
            self.assertIn("hamlet@zulip.com", result["presences"])
            if LISTS_IGNORED_PARAMETERS:
                self.assertEqual(result["ignored_parameters_unsupported"], ["last_update_id"])
            else:
                self.assertNotIn("ignored_parameters_unsupported", result)
            return
        first = zoe.update_presence({"status": "idle", "last_update_id": -1})
        self.assertEqual(first["presence_last_update_id"], 11)
        self.assertEqual(sorted(first["presences"]), ["1", "11", "2", "3", "4", "5", "8"])
        self.assertEqual(first["presences"]["5"], {"active_timestamp": self.now - 7 * 86400,
                                                   "idle_timestamp": self.now - 7 * 86400})

        nothing = zoe.update_presence({"status": "idle", "last_update_id": 11})
        self.assertEqual((nothing["presences"], nothing["presence_last_update_id"]), ({}, 11))

        before = int(time.time())
        cordelia.update_presence({"status": "active"})
        after = int(time.time())
        changes = zoe.update_presence({"status": "idle", "last_update_id": 11})
        self.assertEqual(changes["presence_last_update_id"], 12)
        self.assertEqual(list(changes["presences"]), ["5"])
        timestamp = changes["presences"]["5"]["active_timestamp"]
        self.assertTrue(before <= timestamp <= after)
        self.assertEqual(changes["presences"]["5"], {"active_timestamp": timestamp, "idle_timestamp": timestamp})


if __name__ == "__main__":
    unittest.main()
