"""Testcontainers from Python, as docs/test-suites.md shows it: a generic container of the
image, a wait on the health endpoint, the real `zulip` client on the mapped port."""

import time
import unittest

import zulip
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

IAGO = ("iago@zulip.com", "huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf")


class TestcontainersTest(unittest.TestCase):
    def test_the_image_started_by_testcontainers_answers_the_zulip_client(self):
        started = time.monotonic()
        # --- as docs/test-suites.md shows it ---
        with DockerContainer("zulip-presence-mock").with_exposed_ports(9991).waiting_for(
            HttpWaitStrategy(9991, "/__admin/health")
        ) as mock:
            site = f"http://{mock.get_container_host_ip()}:{mock.get_exposed_port(9991)}"
            client = zulip.Client(email=IAGO[0], api_key=IAGO[1], site=site)
            profile = client.get_profile()
            # --- end ---
            print(f"testcontainers: start to the first answer {time.monotonic() - started:.2f} s")
            presence = client.get_realm_presence()
            bad = zulip.Client(email=IAGO[0], api_key="x" * 32, site=site, retry_on_errors=False).get_profile()

        self.assertEqual(site.split(":")[1], "//127.0.0.1")
        self.assertEqual((profile["result"], profile["user_id"], profile["email"]), ("success", 2, "iago@zulip.com"))
        self.assertEqual(
            {email: row["aggregated"]["status"] for email, row in presence["presences"].items()},
            {"cordelia@zulip.com": "active", "desdemona@zulip.com": "idle", "hamlet@zulip.com": "active",
             "iago@zulip.com": "active", "othello@zulip.com": "idle", "polonius@zulip.com": "active",
             "user11@zulip.localhost": "idle"},
        )
        self.assertEqual(bad, {"result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED"})


if __name__ == "__main__":
    unittest.main()
