"""The real Python `zulip` client's user directory calls against the release binary:
get_members(), get_profile(), get_user_by_id(), and a user by email (zulip 0.9.1 has no
get_user_by_email(): Zulip's API documentation calls `call_endpoint("/users/{email}")`),
whole bodies.

Run by tests/run (at the latest feature level); needs ZULIP_MOCK_BIN like test_zulip_client.py.
"""

import datetime
import hashlib
import time
import unittest

import zulip

from test_zulip_client import HAMLET, IAGO, POLONIUS, start_server, stop_server

NOW = int(time.time())
server = None
site = None
fixture_path = None


def setUpModule():
    global server, site, fixture_path
    server, site, fixture_path = start_server(NOW)


def tearDownModule():
    stop_server(server, fixture_path)


def client(credentials):
    email, api_key = credentials
    return zulip.Client(email=email, api_key=api_key, site=site, retry_on_errors=False)


def joined(days_ago):
    """date_joined as Zulip writes it: to the minute, in UTC."""
    at = datetime.datetime.fromtimestamp(NOW - days_ago * 86400, datetime.timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M+00:00")


def gravatar(email, medium=False):
    digest = hashlib.md5(email.lower().encode()).hexdigest()
    size = "&s=500" if medium else ""
    return f"https://secure.gravatar.com/avatar/{digest}?d=identicon{size}&version=1"


def human(user_id, email, name, role, days_ago, delivery_email=None, avatar_url=None, active=True):
    return {
        "email": email, "user_id": user_id, "avatar_version": 1,
        "is_admin": role <= 200, "is_owner": role == 100, "is_guest": role == 600, "role": role,
        "is_bot": False, "full_name": name, "timezone": "", "is_active": active,
        "date_joined": joined(days_ago),
        "delivery_email": email if delivery_email is None else delivery_email,
        "is_imported_stub": False, "avatar_url": avatar_url,
    }


WELCOME_BOT = {
    "email": "welcome-bot@zulip.com", "user_id": 10, "avatar_version": 1,
    "is_admin": False, "is_owner": False, "is_guest": False, "role": 400,
    "is_bot": True, "full_name": "Welcome Bot", "timezone": "", "is_active": True,
    "date_joined": joined(400), "delivery_email": "welcome-bot@zulip.com",
    "is_imported_stub": False, "avatar_url": None, "bot_type": 1, "bot_owner_id": None,
}

# Hamlet's custom profile fields, as Zulip's development realm has them (fixtures/default.json).
HAMLET_PROFILE_DATA = {
    "1": {"value": "+0-11-23-456-7890", "rendered_value": "<p>+0-11-23-456-7890</p>"},
    "2": {
        "value": "I am:\n* The prince of Denmark\n* Nephew to the usurping Claudius",
        "rendered_value": "<p>I am:</p>\n<ul>\n<li>The prince of Denmark</li>\n<li>Nephew to the usurping Claudius</li>\n</ul>",
    },
    "3": {"value": "Dark chocolate", "rendered_value": "<p>Dark chocolate</p>"},
    "4": {"value": "0"},
    "5": {"value": "1900-01-01"},
    "6": {"value": "https://blog.zulig.org"},
    "7": {"value": "[2]"},
    "8": {"value": "zulipbot"},
}

# The default realm as Iago (an administrator) sees it with client_gravatar on (the default).
MEMBERS = [
    human(1, "desdemona@zulip.com", "Desdemona", 100, 400),
    human(2, "iago@zulip.com", "Iago", 200, 400),
    human(3, "hamlet@zulip.com", "King Hamlet", 400, 300),
    human(4, "othello@zulip.com", "Othello, the Moor of Venice", 400, 300),
    human(5, "cordelia@zulip.com", "Cordelia, Lear's daughter", 400, 300),
    human(6, "prospero@zulip.com", "Prospero from The Tempest", 300, 300),
    human(7, "aaron@zulip.com", "aaron", 400, 200),
    human(8, "polonius@zulip.com", "Polonius", 600, 100),
    human(9, "ophelia@zulip.com", "Ophelia", 400, 200, active=False),
    WELCOME_BOT,
    human(11, "user11@zulip.localhost", "Zoe", 400, 100, delivery_email="ZOE@zulip.com",
          avatar_url=gravatar("ZOE@zulip.com")),
]


class UserDirectoryTest(unittest.TestCase):
    maxDiff = None

    def test_get_members_lists_the_realm(self):
        self.assertEqual(client(IAGO).get_members(), {"result": "success", "msg": "", "members": MEMBERS})

    def test_get_members_takes_parameters(self):
        result = client(IAGO).get_members({"client_gravatar": False, "user_ids": [3]})
        hamlet = dict(MEMBERS[2], avatar_url=gravatar("hamlet@zulip.com"))
        self.assertEqual(result, {"result": "success", "msg": "", "members": [hamlet]})

    def test_a_limited_guest_gets_only_the_users_they_can_access(self):
        result = client(POLONIUS).get_members()
        self.assertEqual([m["user_id"] for m in result["members"]], [3, 4, 5, 7, 8, 10])

    def test_get_profile_is_the_requester(self):
        expected = dict(
            human(3, "hamlet@zulip.com", "King Hamlet", 400, 300, avatar_url=gravatar("hamlet@zulip.com")),
            profile_data=HAMLET_PROFILE_DATA,
            max_message_id=-1,
        )
        self.assertEqual(client(HAMLET).get_profile(), {"result": "success", "msg": "", **expected})

    def test_get_user_by_id(self):
        self.assertEqual(client(IAGO).get_user_by_id(9), {"result": "success", "msg": "", "user": MEMBERS[8]})
        self.assertEqual(
            client(IAGO).get_user_by_id(999),
            {"result": "error", "msg": "No such user", "code": "BAD_REQUEST"},
        )
        self.assertEqual(
            client(POLONIUS).get_user_by_id(1),
            {"result": "error", "msg": "Insufficient permission", "code": "BAD_REQUEST"},
        )

    def test_a_user_by_email_sees_only_the_emails_the_requester_may(self):
        def by_email(credentials, email):
            return client(credentials).call_endpoint(url=f"/users/{email}", method="GET")

        self.assertEqual(by_email(IAGO, "ZOE@zulip.com"), {"result": "success", "msg": "", "user": MEMBERS[10]})
        self.assertEqual(
            by_email(HAMLET, "ZOE@zulip.com"),
            {"result": "error", "msg": "No such user", "code": "BAD_REQUEST"},
        )


if __name__ == "__main__":
    unittest.main()
