"""The default fixture with its relative times made absolute against a given instant, so that
a client test knows every timestamp the server will send.

    python fixture_at.py OUT.json NOW    # writes the fixture for UNIX time NOW
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def absolute(value, now):
    """A fixture time made absolute against `now` (relative strings only)."""
    match = re.fullmatch(r"([+-])(\d+)([smhdw])", value) if isinstance(value, str) else None
    if not match:
        return value
    sign = -1 if match.group(1) == "-" else 1
    return now + sign * int(match.group(2)) * UNITS[match.group(3)]


def default_fixture_at(now):
    with open(os.path.join(ROOT, "fixtures", "default.json")) as f:
        fixture = json.load(f)
    for realm in fixture["realms"]:
        for user in realm["users"]:
            if "date_joined" in user:
                user["date_joined"] = absolute(user["date_joined"], now)
        for row in realm.get("presence", []):
            for key in ("last_connected_time", "last_active_time"):
                row[key] = absolute(row.get(key), now)
    return fixture


if __name__ == "__main__":
    out, now = sys.argv[1], int(sys.argv[2])
    with open(out, "w") as f:
        json.dump(default_fixture_at(now), f)
