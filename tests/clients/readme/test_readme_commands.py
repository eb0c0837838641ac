"""README's commands for a newcomer, run as written: `cargo run --release` (the server on its
built-in default fixture at 127.0.0.1:9991), the quick start's curl line, and the Python and
JavaScript client snippets; and the second realm's curl line from docs/behaviour.md ("The
default fixture"). Each one's output is compared with the same request made here, exactly but
for `server_timestamp`, which is checked by rule. Run by tests/run with the virtual
environment's Python (it has the `zulip` package) after `npm ci` in tests/clients/js."""

import ast
import base64
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()
BEHAVIOUR = (ROOT / "docs" / "behaviour.md").read_text()
JS_DIR = ROOT / "tests" / "clients" / "js"
BASE = "http://127.0.0.1:9991"


def block_after(text, language):
    """The first code block fenced as `language` after the first occurrence of `text`."""
    rest = README.split(text, 1)[1]
    return rest.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def line_of(document, prefix):
    return next(line for line in document.splitlines() if line.startswith(prefix))


def get(path, credentials, host=None):
    request = urllib.request.Request(BASE + path)
    request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    if host:
        request.add_header("Host", host)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, **kwargs)
    if done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}: {done.stderr}")
    return done.stdout


class ReadmeCommands(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", 9991)) == 0:
                raise RuntimeError("127.0.0.1:9991 is taken: README's quick start needs it free")
        command = block_after("Run the server on its built-in default fixture", "sh").strip()
        assert command == "cargo run --release", command
        cls.log = tempfile.TemporaryFile()
        cls.server = subprocess.Popen(
            ["bash", "-c", command], cwd=ROOT, stdout=cls.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 600  # cargo may still have to build the release binary
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(BASE + "/api/v1/server_settings", timeout=1).read()
                return
            except OSError:
                if cls.server.poll() is not None:
                    break
                time.sleep(0.1)
        cls.tearDownClass()
        raise RuntimeError("`cargo run --release` did not answer on 127.0.0.1:9991")

    @classmethod
    def tearDownClass(cls):
        if cls.server and cls.server.poll() is None:
            os.killpg(cls.server.pid, signal.SIGTERM)
            cls.server.wait(timeout=10)

    def assert_same_presence(self, got, expected):
        """The same body, but for server_timestamp: the time of its own answer."""
        got, expected = dict(got), dict(expected)
        stamp = got.pop("server_timestamp")
        self.assertLessEqual(abs(stamp - time.time()), 30)
        expected.pop("server_timestamp")
        self.assertEqual(got, expected)

    def test_the_quick_start_curl_line_prints_the_realm_presence(self):
        line = line_of(README, "curl -u iago@zulip.com:")

        got = json.loads(run(["bash", "-c", line]))

        credentials = line.split()[2]
        self.assertEqual(got["result"], "success")
        self.assertIn("hamlet@zulip.com", got["presences"])
        self.assert_same_presence(got, get("/api/v1/realm/presence", credentials))

    def test_the_behaviour_docs_second_realm_curl_line_reaches_lear_by_its_host(self):
        line = line_of(BEHAVIOUR, "curl -u king@lear.org:")

        got = json.loads(run(["bash", "-c", line]))

        credentials = line.split()[2]
        self.assertEqual(sorted(got["presences"]), ["goneril@lear.org", "king@lear.org"])
        self.assert_same_presence(got, get("/api/v1/realm/presence", credentials, "lear.localhost:9991"))

    def test_the_python_snippet_prints_the_realm_presence(self):
        snippet = block_after("Python (`pip install zulip`):", "python")

        got = ast.literal_eval(run([os.environ.get("PYTHON", "python3"), "-c", snippet]))

        self.assertEqual(got["result"], "success")
        self.assert_same_presence(got, get("/api/v1/realm/presence", "iago@zulip.com:huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf"))

    def test_the_javascript_snippet_prints_the_realm_presence(self):
        snippet = block_after("JavaScript\n(`npm install zulip-js`):", "js")

        printed = run(["node", "-e", snippet], cwd=JS_DIR)

        expected = get("/api/v1/realm/presence", "iago@zulip.com:huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf")
        # console.log's rendering of the expected body, by the same Node.js.
        rendered = run(["node", "-e", "console.log(JSON.parse(process.argv[1]))", json.dumps(expected)])
        stamp = re.compile(r"server_timestamp: [0-9.]+")
        self.assertRegex(printed, stamp)
        self.assertEqual(stamp.sub("server_timestamp: T", printed), stamp.sub("server_timestamp: T", rendered))


if __name__ == "__main__":
    unittest.main()
