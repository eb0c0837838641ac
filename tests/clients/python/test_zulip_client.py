"""The real Python `zulip` client (0.9.1) against the release binary.

Run by tests/run; needs ZULIP_MOCK_BIN (the binary) and the client installed. The server runs
on a free port with the default fixture, its relative times made absolute here so that every
expected timestamp is exact. With ZULIP_MOCK_SITE (and ZULIP_MOCK_NOW), the suite checks a
server started elsewhere instead, such as the Docker image (tests/docker/run).
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

IAGO = ("iago@zulip.com", "huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf")
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


def setUpModule():
    global server, site, fixture_path
    if EXTERNAL_SITE:
        site = EXTERNAL_SITE
        return
    fixture_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(default_fixture_at(NOW), fixture_file)
    fixture_file.close()
    fixture_path = fixture_file.name
    server = subprocess.Popen(
        [BINARY, "--bind", "127.0.0.1:0", "--log-format", "json", "--fixtures", fixture_file.name],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    for line in server.stdout:
        log = json.loads(line)
        if log["fields"].get("message") == "listening":
            site = "http://" + log["fields"]["addr"]
            break
        if time.monotonic() > deadline:
            break
    if site is None:
        raise RuntimeError("the server did not report its address")
    # Keep reading so that a full pipe never blocks the server.
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()


def tearDownModule():
    if server is None:
        return
    server.terminate()
    assert server.wait(timeout=5) == 0
    os.unlink(fixture_path)


def client(credentials):
    email, api_key = credentials
    return zulip.Client(email=email, api_key=api_key, site=site, retry_on_errors=False)


class RealmPresenceTest(unittest.TestCase):
    def assert_presence_response(self, result, presences, before, after, **extra):
        server_timestamp = result.pop("server_timestamp")
        self.assertIsInstance(server_timestamp, float)
        self.assertGreaterEqual(server_timestamp, before - 0.001)
        self.assertLessEqual(server_timestamp, after + 0.001)
        self.assertEqual(result, {"result": "success", "msg": "", "presences": presences, **extra})

    def test_the_constructor_reads_the_server_version_from_server_settings(self):
        c = client(IAGO)
        self.assertEqual(c.zulip_version, "12.0-dev+git")
        self.assertEqual(c.feature_level, 509)

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
        expected = {email: EVERYONE[email] for email in
                    ["cordelia@zulip.com", "hamlet@zulip.com", "othello@zulip.com", "polonius@zulip.com"]}
        self.assert_presence_response(result, expected, before, time.time())

    def test_unknown_parameters_are_listed_as_ignored(self):
        c = client(IAGO)
        before = time.time()
        result = c.call_endpoint(url="realm/presence", method="GET",
                                 request={"zeta": "x", "slim_presence": True, "client": "ours"})
        self.assert_presence_response(result, EVERYONE, before, time.time(),
                                      ignored_parameters_unsupported=["slim_presence", "zeta"])

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


if __name__ == "__main__":
    unittest.main()
