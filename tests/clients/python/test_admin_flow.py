"""A contract test as a client author writes one, from HTTP alone, with the real Python `zulip`
client (0.9.1): create an own realm, set presence, freeze time, run the client, read what it
sent, inject a rate limit and a server error, clean up.

Run by tests/run; needs ZULIP_MOCK_BIN (the binary). The server runs on a free port with its
built-in default fixture; the admin API is called with the standard library only.
"""

import json
import os
import subprocess
import threading
import time
import unittest
import urllib.request

import zulip

from fixture_at import ROOT

BINARY = os.environ.get("ZULIP_MOCK_BIN", os.path.join(ROOT, "target", "release", "zulip-presence-mock"))
FROZEN_AT = 1_700_000_000

server = None
base = None


def setUpModule():
    global server, base
    server = subprocess.Popen(
        [BINARY, "--bind", "127.0.0.1:0", "--log-format", "json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in server.stdout:
        log = json.loads(line)
        if log["fields"].get("message") == "listening":
            base = "http://" + log["fields"]["addr"]
            break
    server.reader = threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True)
    server.reader.start()


def tearDownModule():
    server.terminate()
    assert server.wait(timeout=5) == 0
    server.reader.join(timeout=5)
    server.stdout.close()


def admin(method, path, body=None):
    """Calls the admin API; returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


USER1 = ("user1@example.com", "key" + "1".zfill(29))


class AdminFlowTest(unittest.TestCase):
    def setUp(self):
        status, _ = admin("POST", "/__admin/reset")
        self.assertEqual(status, 200)
        status, realm = admin("POST", "/__admin/realms", {"subdomain": "flow", "generate": {"users": 3, "presence": "none"}})
        self.assertEqual(status, 201)
        self.assertEqual(realm["path_prefix"], "/__realm/flow")
        self.site = base + realm["path_prefix"]
        status, clock = admin("POST", "/__admin/time/freeze", {"at": FROZEN_AT})
        self.assertEqual((status, clock["now"]), (200, FROZEN_AT))
        status, row = admin("PUT", "/__admin/realms/flow/presence/2", {"last_connected_time": "-30s", "last_active_time": "-30s"})
        self.assertEqual((status, row["last_update_id"]), (200, 1))

    def tearDown(self):
        status, _ = admin("DELETE", "/__admin/realms/flow")
        self.assertEqual(status, 204)

    def client(self, **options):
        email, api_key = USER1
        return zulip.Client(email=email, api_key=api_key, site=self.site, **options)

    def test_the_whole_flow_create_set_freeze_run_read_fault_and_clean_up(self):
        client = self.client(retry_on_errors=False)

        presence = client.get_realm_presence()
        update = client.update_presence({"status": "active", "slim_presence": "true"})

        self.assertEqual(
            presence,
            {
                "result": "success",
                "msg": "",
                "presences": {
                    "user2@example.com": {
                        "aggregated": {"client": "website", "status": "active", "timestamp": FROZEN_AT - 30},
                        "website": {"client": "website", "status": "active", "timestamp": FROZEN_AT - 30, "pushable": False},
                    }
                },
                "server_timestamp": FROZEN_AT,
            },
        )
        self.assertEqual(
            update,
            {
                "result": "success",
                "msg": "",
                "presences": {
                    "1": {"active_timestamp": FROZEN_AT, "idle_timestamp": FROZEN_AT},
                    "2": {"active_timestamp": FROZEN_AT - 30, "idle_timestamp": FROZEN_AT - 30},
                },
                "server_timestamp": FROZEN_AT,
                "presence_last_update_id": 2,
            },
        )

        status, journal = admin("GET", "/__admin/requests?realm=flow&path=/api/v1/users/me/presence")
        self.assertEqual(status, 200)
        [entry] = journal["requests"]
        self.assertEqual(entry["method"], "POST")
        self.assertEqual(entry["params"], {"status": "active", "slim_presence": "true"})
        self.assertEqual(entry["user"], {"user_id": 1, "email": "user1@example.com"})
        self.assertEqual(entry["status"], 200)
        self.assertTrue(entry["user_agent"].startswith("ZulipPython/0.9.1"), entry["user_agent"])

        status, _ = admin("POST", "/__admin/faults", {"realm": "flow", "rate_limit": {"retry_after": 1.5}, "times": 1})
        self.assertEqual(status, 201)
        self.assertEqual(
            client.get_realm_presence(),
            {"result": "error", "msg": "API usage exceeded rate limit", "code": "RATE_LIMIT_HIT", "retry-after": 1.5},
        )

        status, _ = admin("POST", "/__admin/faults", {"realm": "flow", "error": {"status": 500}, "times": 1})
        self.assertEqual(status, 201)
        self.assertEqual(client.get_realm_presence(), {"result": "error", "msg": "Internal server error"})

    def test_the_client_retries_an_injected_500_as_it_would_against_zulip(self):
        client = self.client()  # retry_on_errors=True, the client's default
        admin("POST", "/__admin/faults", {"realm": "flow", "path": "/api/v1/realm/presence", "error": {"status": 500}, "times": 1})

        started = time.monotonic()
        result = client.get_realm_presence()

        self.assertEqual(result["result"], "success")
        self.assertGreaterEqual(time.monotonic() - started, 1.0)  # the client sleeps 1 s before its retry
        status, journal = admin("GET", "/__admin/requests?realm=flow&path=/api/v1/realm/presence")
        self.assertEqual([entry["status"] for entry in journal["requests"]], [500, 200])
        self.assertEqual([entry["fault"] for entry in journal["requests"]], [1, None])

    def test_a_wrong_key_is_explained_in_the_journal(self):
        client = zulip.Client(email=USER1[0], api_key="key" + "2".zfill(29), site=self.site, retry_on_errors=False)

        result = client.get_realm_presence()

        self.assertEqual(result, {"result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED"})
        status, journal = admin("GET", "/__admin/requests?realm=flow&path=/api/v1/realm/presence")
        self.assertEqual(
            journal["requests"][-1]["auth_failure"],
            "the API key belongs to user2@example.com, not to user1@example.com",
        )


if __name__ == "__main__":
    unittest.main()
