"""Writes a fixture of N users for benchmarks: one realm on the root domain, every user with a
presence row spread over the last 13 days (so all are listed), half of them idle.

    python3 benches/generate_fixture.py N OUT.json
"""

import json
import sys


def fixture(users):
    return {
        "server": {"feature_level": 509},
        "realms": [{
            "subdomain": "",
            "name": "Load",
            "users": [
                {"user_id": i, "email": f"user{i}@example.com", "full_name": f"User {i}",
                 "date_joined": "-400d", "api_key": f"{i:032d}"}
                for i in range(1, users + 1)
            ],
            "presence": [
                {"user_id": i, "last_connected_time": f"-{i % (13 * 86400)}s",
                 "last_active_time": f"-{i % (13 * 86400) + (i % 2) * 300}s"}
                for i in range(1, users + 1)
            ],
        }],
    }


if __name__ == "__main__":
    n, out = int(sys.argv[1]), sys.argv[2]
    with open(out, "w") as f:
        json.dump(fixture(n), f)
