"""pytest fixtures for zulip-presence-mock (docs/test-suites.md).

One mock server per test run (the binary, or the Docker image), a realm of its own for each
test, a ready `zulip.Client`, and the admin API's helpers:

    def test_my_bot_reports_presence(zulip_client, zulip_mock, zulip_realm):
        my_bot.run_once(zulip_client)
        (entry,) = zulip_mock.journal(realm=zulip_realm.subdomain, path="/api/v1/users/me/presence")
        assert entry["params"] == {"status": "active"}

Options (each with an environment twin): --zulip-mock-bin / ZULIP_MOCK_BIN (default: the
`zulip-presence-mock` on PATH), --zulip-mock-image / ZULIP_MOCK_IMAGE (run the image instead,
with the host network), --zulip-mock-fixture / ZULIP_MOCK_PYTEST_FIXTURE (a fixture file to serve
instead of the built-in one), --zulip-mock-url / ZULIP_MOCK_URL (use a server already running).
"""

import collections
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

START_TIMEOUT = 30.0


class AdminError(AssertionError):
    """The admin API refused a helper's request: its status and answer."""

    def __init__(self, method, path, status, answer):
        super().__init__(f"the mock's admin API refused {method} {path}: {status} {answer}")
        self.status = status
        self.answer = answer


class Credentials(collections.namedtuple("Credentials", "email api_key")):
    """A user's email and API key, as a client is given them."""


class Realm:
    """A realm made for one test: its subdomain, its site (the mock's URL with the realm in the
    path, so no Host header is needed) and its generated users user1@example.com..."""

    def __init__(self, mock, subdomain, users):
        self.mock = mock
        self.subdomain = subdomain
        self.site = f"{mock.url}/__realm/{subdomain}"
        self.users = users

    def user(self, n):
        """User n's credentials (key: "key" and n in 29 digits)."""
        if not 1 <= n <= self.users:
            raise ValueError(f"realm {self.subdomain} has users 1 to {self.users}, not {n}")
        return Credentials(f"user{n}@example.com", f"key{n:029d}")

    def client(self, n=1, **options):
        """A `zulip.Client` for user n of this realm (no retries unless asked for)."""
        import zulip  # the optional dependency: pip install "pytest-zulip-mock[client]"

        user = self.user(n)
        options.setdefault("retry_on_errors", False)
        return zulip.Client(email=user.email, api_key=user.api_key, site=self.site, **options)


class MockServer:
    """A running mock and the admin API's helpers (docs/admin-api.md)."""

    def __init__(self, url, admin_token=None):
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self._realms_made = 0

    def admin(self, method, path, body=None):
        """One admin request; its JSON answer (None when empty). Raises AdminError unless 2xx."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.admin_token:
            request.add_header("Authorization", f"Bearer {self.admin_token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise AdminError(method, path, error.code, error.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def new_realm(self, users=3, presence="none"):
        """A realm of `users` generated users on a subdomain no other realm has."""
        while True:
            self._realms_made += 1
            subdomain = f"pytest{os.getpid()}x{self._realms_made}"
            try:
                self.admin("POST", "/__admin/realms",
                           {"subdomain": subdomain, "generate": {"users": users, "presence": presence}})
                return Realm(self, subdomain, users)
            except AdminError as error:
                if error.status != 409:
                    raise

    def delete_realm(self, realm):
        self.admin("DELETE", f"/__admin/realms/{_segment(realm)}")

    def set_presence(self, realm, user_id, last_connected_time, last_active_time):
        """A presence row in fixture times (RFC 3339, UNIX seconds, or relative: "-30s")."""
        self.admin("PUT", f"/__admin/realms/{_segment(realm)}/presence/{user_id}",
                   {"last_connected_time": last_connected_time, "last_active_time": last_active_time})

    def now(self):
        """The server clock, in UNIX seconds."""
        return self.admin("GET", "/__admin/time")["now"]

    def freeze_clock(self, at="now"):
        self.admin("POST", "/__admin/time/freeze", {"at": at})

    def advance_clock(self, by):
        self.admin("POST", "/__admin/time/advance", {"by": by})

    def system_clock(self):
        self.admin("POST", "/__admin/time/system")

    def journal(self, **filters):
        """The journalled requests the filters match (realm, path, method, user...), oldest first."""
        return self.admin("GET", "/__admin/requests" + _query(filters))["requests"]

    def journal_count(self, **filters):
        return self.admin("GET", "/__admin/requests/count" + _query(filters))["count"]

    def install_fault(self, **fault):
        """A fault in the admin API's format (path=..., error={"status": 500}, times=1); its id."""
        return self.admin("POST", "/__admin/faults", fault)["id"]

    def remove_fault(self, fault_id):
        self.admin("DELETE", f"/__admin/faults/{fault_id}")

    def reset(self):
        """Everything back to the loaded fixture: made realms go, the clock, faults, journal."""
        self.admin("POST", "/__admin/reset")


def _segment(realm):
    subdomain = realm.subdomain if isinstance(realm, Realm) else realm
    return subdomain or "_root"


def _query(filters):
    return "?" + urllib.parse.urlencode(filters) if filters else ""


def _option(config, name, env):
    return config.getoption(name) or os.environ.get(env) or None


def pytest_addoption(parser):
    group = parser.getgroup("zulip-mock", "zulip-presence-mock")
    group.addoption("--zulip-mock-bin", help="the zulip-presence-mock binary (env ZULIP_MOCK_BIN; default: on PATH)")
    group.addoption("--zulip-mock-image", help="run this Docker image instead of the binary (env ZULIP_MOCK_IMAGE)")
    group.addoption("--zulip-mock-fixture", help="a fixture file to serve (env ZULIP_MOCK_PYTEST_FIXTURE)")
    group.addoption("--zulip-mock-url", help="use the mock already running there (env ZULIP_MOCK_URL)")


def pytest_configure(config):
    config.addinivalue_line("markers", "zulip_realm(users=3, presence='none'): the test's own realm")


def _wait_healthy(url, process_alive, log):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not process_alive():
            raise RuntimeError("zulip-presence-mock exited at start:\n" + log())
        try:
            with urllib.request.urlopen(url + "/__admin/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"zulip-presence-mock did not answer {url}/__admin/health within {START_TIMEOUT} s:\n" + log())


def _start_binary(binary, fixture):
    """The binary on an ephemeral port: its address is read from its first log line."""
    command = [binary, "--bind", "127.0.0.1:0", "--log-format", "json"]
    if fixture:
        command += ["--fixtures", fixture]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = collections.deque(maxlen=50)
    address = None
    for line in process.stdout:
        lines.append(line)
        try:
            fields = json.loads(line).get("fields", {})
        except ValueError:
            continue
        if fields.get("message") == "listening":
            address = fields["addr"]
            break
    if address is None:
        process.wait()
        raise RuntimeError("zulip-presence-mock exited at start:\n" + "".join(lines))

    # Keep reading its log, so that a full pipe never blocks the server.
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()

    def stop():
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()

    url = f"http://{address}"
    _wait_healthy(url, lambda: process.poll() is None, lambda: "".join(lines))
    return url, stop


def _start_image(image, fixture):
    """The image with the host network, on a free port of 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Not --rm: a container that exits at start keeps its log until it is removed here.
    command = ["docker", "run", "-d", "--network", "host", "-e", f"ZULIP_MOCK_BIND=127.0.0.1:{port}"]
    if fixture:
        command += ["-v", f"{os.path.abspath(fixture)}:/fixtures/fixture.json:ro"]
    container = subprocess.run(command + [image], check=True, capture_output=True, text=True).stdout.strip()

    def alive():
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", container],
                               capture_output=True, text=True).stdout.strip()
        return state == "true"

    def log():
        return subprocess.run(["docker", "logs", container], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True).stdout

    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, alive, log)
    except Exception:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        raise
    return url, lambda: subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


@pytest.fixture(scope="session")
def zulip_mock(pytestconfig):
    """The test run's mock server, started once (or the one at --zulip-mock-url)."""
    url = _option(pytestconfig, "zulip_mock_url", "ZULIP_MOCK_URL")
    fixture = _option(pytestconfig, "zulip_mock_fixture", "ZULIP_MOCK_PYTEST_FIXTURE")
    image = _option(pytestconfig, "zulip_mock_image", "ZULIP_MOCK_IMAGE")
    stop = None
    if url is None and image:
        url, stop = _start_image(image, fixture)
    elif url is None:
        binary = _option(pytestconfig, "zulip_mock_bin", "ZULIP_MOCK_BIN") or shutil.which("zulip-presence-mock")
        if binary is None:
            pytest.exit("pytest-zulip-mock: no zulip-presence-mock binary: pass --zulip-mock-bin or put it on PATH",
                        returncode=4)
        if not os.access(binary, os.X_OK):
            pytest.exit(f"pytest-zulip-mock: {binary} is not an executable file", returncode=4)
        url, stop = _start_binary(binary, fixture)
    try:
        yield MockServer(url, admin_token=os.environ.get("ZULIP_MOCK_ADMIN_TOKEN"))
    finally:
        if stop is not None:
            stop()


@pytest.fixture
def zulip_realm(request, zulip_mock):
    """A realm of this test's own (3 generated users unless @pytest.mark.zulip_realm says),
    deleted after the test."""
    marker = request.node.get_closest_marker("zulip_realm")
    options = dict(marker.kwargs) if marker else {}
    realm = zulip_mock.new_realm(**options)
    yield realm
    try:
        zulip_mock.delete_realm(realm)
    except AdminError as error:
        if error.status != 404:  # the test deleted it, or reset the mock
            raise


@pytest.fixture
def zulip_client(zulip_realm):
    """A `zulip.Client` for user 1 of the test's realm."""
    return zulip_realm.client(1)
