"""The test suite of tests/docker/compose.yaml: the real Python `zulip` client, configured from
the environment as the compose file sets it, against the mock's default fixture."""

import os
import sys

import zulip

client = zulip.Client(email=os.environ["ZULIP_EMAIL"], api_key=os.environ["ZULIP_API_KEY"],
                      site=os.environ["ZULIP_SITE"], retry_on_errors=False)

profile = client.get_profile()
presence = client.get_realm_presence()
statuses = {email: row["aggregated"]["status"] for email, row in presence["presences"].items()}
generic = client.call_endpoint("realm/presence", method="GET")  # the same, through the generic call
bad = zulip.Client(email="iago@zulip.com", api_key="x" * 32, site=os.environ["ZULIP_SITE"],
                   retry_on_errors=False).get_profile()

checks = [
    ((profile["result"], profile["user_id"], profile["email"], profile["role"]), ("success", 2, "iago@zulip.com", 200)),
    ((presence["result"], presence["msg"], statuses), ("success", "", {
        "cordelia@zulip.com": "active", "desdemona@zulip.com": "idle", "hamlet@zulip.com": "active",
        "iago@zulip.com": "active", "othello@zulip.com": "idle", "polonius@zulip.com": "active",
        "user11@zulip.localhost": "idle"})),
    (generic["presences"].keys(), presence["presences"].keys()),
    (bad, {"result": "error", "msg": "Invalid API key", "code": "UNAUTHORIZED"}),
]
for got, expected in checks:
    if got != expected:
        sys.exit(f"compose check failed: {got!r} != {expected!r}")
print("compose check: the zulip client got the default fixture's answers from http://zulip:9991")
