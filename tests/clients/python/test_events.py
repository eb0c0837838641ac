"""The real Python `zulip` client's event loop (`call_on_each_event`) against the release binary:
it registers a queue, long-polls, and receives a presence event caused by another client.

Run by tests/run; needs ZULIP_MOCK_BIN. The server runs on a free port with its built-in
default fixture (Cordelia was last active a week ago, so an active report brings her online).
"""

import json
import os
import urllib.request
import subprocess
import threading
import time
import unittest

import zulip

from fixture_at import ROOT

BINARY = os.environ.get("ZULIP_MOCK_BIN", os.path.join(ROOT, "target", "release", "zulip-presence-mock"))
IAGO = ("iago@zulip.com", "huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf")
CORDELIA = ("cordelia@zulip.com", "4hOSDRET79IqJzQtJZPGSEZ4zBms1rac")


class Received(Exception):
    """Stops the client's endless event loop from the callback."""


class EventLoopTest(unittest.TestCase):
    def setUp(self):
        self.server = subprocess.Popen(
            [BINARY, "--bind", "127.0.0.1:0", "--log-format", "json"], stdout=subprocess.PIPE, text=True)
        for line in self.server.stdout:
            log = json.loads(line)
            if log["fields"].get("message") == "listening":
                self.site = "http://" + log["fields"]["addr"]
                break
        self.reader = threading.Thread(target=lambda: [None for _ in self.server.stdout], daemon=True)
        self.reader.start()

    def tearDown(self):
        self.server.terminate()
        self.assertEqual(self.server.wait(timeout=10), 0)
        self.reader.join(timeout=5)
        self.server.stdout.close()

    def client(self, credentials):
        email, api_key = credentials
        return zulip.Client(email=email, api_key=api_key, site=self.site)

    def listen_for_one_event(self):
        """Runs Iago's call_on_each_event in a thread until it gets one event; returns the
        thread, the events received and the outcome."""
        received, outcome = [], []

        def callback(event):
            received.append(event)
            raise Received

        def listen():
            try:
                self.client(IAGO).call_on_each_event(callback, event_types=["presence"])
            except Received:
                outcome.append("received")

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        time.sleep(1.0)  # the listener registers and starts its long-poll
        return listener, received, outcome

    def test_call_on_each_event_receives_the_presence_event_of_another_clients_report(self):
        listener, received, outcome = self.listen_for_one_event()
        before = int(time.time())
        self.assertEqual(self.client(CORDELIA).update_presence({"status": "active"})["result"], "success")
        after = int(time.time())
        listener.join(timeout=20)

        self.assertEqual(outcome, ["received"])
        [event] = received
        timestamp = event["presence"]["website"]["timestamp"]
        self.assertTrue(before <= timestamp <= after)
        server_timestamp = event.pop("server_timestamp")
        self.assertTrue(before <= server_timestamp <= after + 1)
        self.assertEqual(event, {
            "type": "presence",
            "user_id": 5,
            "email": "cordelia@zulip.com",
            "presence": {"website": {"client": "website", "status": "active", "timestamp": timestamp,
                                     "pushable": False}},
            "id": 0,
        })

    def admin(self, method, path):
        request = urllib.request.Request(self.site + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return json.loads(text) if text else None

    def test_call_on_each_event_registers_again_when_its_queue_is_dropped(self):
        listener, received, outcome = self.listen_for_one_event()
        [queue] = self.admin("GET", "/__admin/queues")
        self.admin("DELETE", f"/__admin/queues/{queue['queue_id']}")
        # The client gets BAD_EVENT_QUEUE_ID, waits a second, and registers a new queue.
        time.sleep(2.5)
        [new_queue] = self.admin("GET", "/__admin/queues")
        self.client(CORDELIA).update_presence({"status": "active"})
        listener.join(timeout=20)

        self.assertNotEqual(new_queue["queue_id"], queue["queue_id"])
        self.assertEqual(outcome, ["received"])
        self.assertEqual(received[0]["user_id"], 5)
        registrations = self.admin("GET", "/__admin/requests/count?path=/api/v1/register")
        self.assertEqual(registrations, {"count": 2})


if __name__ == "__main__":
    unittest.main()
