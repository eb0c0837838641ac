"""A published bot SDK, async-zulip-bot-sdk 1.3.0 (pinned in tests/clients/pythons/bot-sdk.txt),
run the way its README says (a project with bots.yaml and an echo bot, started with
`async-zulip-bot run`, which starts a BotRunner per bot) against the release binary on
fixtures/examples/bot.json, with nothing in between. Its runner must start, its start-up
presence report must show in the mock's realm presence, and a message sent to it must come
back as a reply through the fixture's stub for POST /messages.

Needs ZULIP_MOCK_BIN and BOT_SDK (the `async-zulip-bot` executable of a Python 3.12+
environment); tests/clients/bot-sdk/run sets both.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BINARY = os.environ.get("ZULIP_MOCK_BIN", os.path.join(ROOT, "target", "release", "zulip-presence-mock"))
BOT_SDK = os.environ["BOT_SDK"]
FIXTURE = os.path.join(ROOT, "fixtures", "examples", "bot.json")
DESDEMONA = ("desdemona@zulip.com", "hs0gCa05RFRunzqw7wZyVGOeUvfJIssD")
ECHO = ("echo@zulip.com", "echoAPIkey0000000000000000000000")

# The echo bot of the SDK's README.
ECHO_BOT = '''from bot_sdk import BaseBot, Message


class EchoBot(BaseBot):
    async def on_message(self, message: Message):
        await self.send_reply(message, "echo: " + message.content)


BOT_CLASS = EchoBot
'''

BOTS_YAML = """bots:
  - name: echo_bot
    module: bots.echo_bot
    class_name: BOT_CLASS
    enabled: true
    zuliprc: bots/echo_bot/zuliprc
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BotRunnerTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.server = subprocess.Popen(
            [BINARY, "--bind", f"127.0.0.1:{cls.port}", "--fixtures", FIXTURE],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                cls.call("GET", "/__admin/health")
                break
            except OSError:
                time.sleep(0.05)
        cls.project = tempfile.mkdtemp()
        os.makedirs(os.path.join(cls.project, "bots", "echo_bot"))
        files = {
            "bots.yaml": BOTS_YAML,
            "bots/__init__.py": "",
            "bots/echo_bot/__init__.py": ECHO_BOT,
            "bots/echo_bot/zuliprc": f"[api]\nemail={ECHO[0]}\nkey={ECHO[1]}\nsite=http://127.0.0.1:{cls.port}\n",
        }
        for name, text in files.items():
            with open(os.path.join(cls.project, name), "w") as f:
                f.write(text)
        cls.log = open(os.path.join(cls.project, "runner.log"), "w")
        cls.runner = subprocess.Popen(
            [BOT_SDK, "run", "--config", "bots.yaml"], cwd=cls.project, stdout=cls.log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    @classmethod
    def tearDownClass(cls):
        if cls.runner.poll() is None:
            os.killpg(cls.runner.pid, signal.SIGTERM)  # the SDK's runner ignores Ctrl+C
            cls.runner.wait(timeout=10)
        cls.log.close()
        cls.server.terminate()
        cls.server.wait(timeout=10)
        shutil.rmtree(cls.project, ignore_errors=True)

    @classmethod
    def call(cls, method, path, body=None, credentials=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{cls.port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"} if body is not None else {},
        )
        if credentials:
            request.add_header("Authorization", "Basic " + base64.b64encode(":".join(credentials).encode()).decode())
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def journal(self, path=None):
        query = f"?path={path}" if path else ""
        return self.call("GET", f"/__admin/requests{query}")["requests"]

    def wait_for(self, what, condition, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            if self.runner.poll() is not None:
                break
            time.sleep(0.1)
        with open(os.path.join(self.project, "runner.log")) as f:
            self.fail(f"{what} within {seconds} s; the runner's output:\n{f.read()[-3000:]}")

    def test_the_runner_starts_reports_presence_and_replies_through_a_stub(self):
        queue = self.wait_for(
            "the runner's event queue",
            lambda: [q for q in self.call("GET", "/__admin/queues") if q["waiting"]],
        )[0]["queue_id"]

        started = [(e["method"], e["path"], e["status"], e["params"]) for e in self.journal()]
        self.assertEqual(
            started[:3],
            [
                ("GET", "/api/v1/users/me", 200, {}),
                ("POST", "/api/v1/users/me/presence", 200, {"status": "active"}),
                ("POST", "/api/v1/register", 200, {"event_types": '["message"]', "narrow": "[]"}),
            ],
        )
        # The row's time is the server clock when the report was handled, a moment after the
        # journal's arrival time: the same second, or the next when a second began in between.
        arrived = int(self.journal("/api/v1/users/me/presence")[0]["time"])
        presence = self.call("GET", "/api/v1/realm/presence", credentials=DESDEMONA)
        reported = presence["presences"]["echo@zulip.com"]["website"]["timestamp"]
        self.assertIn(reported, (arrived, arrived + 1))
        self.assertEqual(
            presence["presences"]["echo@zulip.com"],
            {
                "aggregated": {"client": "website", "status": "active", "timestamp": reported},
                "website": {"client": "website", "status": "active", "timestamp": reported, "pushable": False},
            },
        )

        self.call("POST", f"/__admin/queues/{queue}/events", {
            "type": "message", "flags": [],
            "message": {
                "id": 7, "type": "stream", "stream_id": 1, "display_recipient": "general",
                "subject": "greetings", "content": "hello", "sender_id": 2,
                "sender_email": "hamlet@zulip.com", "sender_full_name": "King Hamlet",
                "timestamp": 1700000000, "client": "website",
            },
        })
        reply = self.wait_for("the bot's reply", lambda: self.journal("/api/v1/messages"))[0]
        self.assertEqual(
            (reply["method"], reply["user"], reply["params"], reply["status"], reply["note"]),
            (
                "POST",
                {"user_id": 3, "email": "echo@zulip.com"},
                {"type": "stream", "to": "1", "topic": "greetings", "content": "echo: hello"},
                200,
                "answered by stub 1",
            ),
        )
        notes = [e["note"] for e in self.journal() if e["note"] and "not served" in e["note"]]
        self.assertEqual(notes, [])


if __name__ == "__main__":
    unittest.main()
