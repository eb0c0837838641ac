"""The plugin's own tests: its fixtures against the real mock, driven by the real zulip client."""

import pytest

FROZEN_AT = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture(autouse=True)
def frozen_clock(zulip_mock):
    zulip_mock.freeze_clock("2026-01-01T00:00:00Z")
    yield
    zulip_mock.system_clock()


def test_the_client_reads_its_own_realms_presence(zulip_client, zulip_mock, zulip_realm):
    zulip_mock.set_presence(zulip_realm, 2, "-30s", "-30s")

    assert zulip_client.get_realm_presence() == {
        "result": "success",
        "msg": "",
        "presences": {
            "user2@example.com": {
                "aggregated": {"client": "website", "status": "active", "timestamp": FROZEN_AT - 30},
                "website": {"client": "website", "status": "active", "timestamp": FROZEN_AT - 30, "pushable": False},
            }
        },
        "server_timestamp": FROZEN_AT,
    }


def test_each_test_gets_a_realm_of_its_own(zulip_mock, zulip_realm):
    realms = {realm["subdomain"]: realm for realm in zulip_mock.admin("GET", "/__admin/realms")}
    assert realms[zulip_realm.subdomain]["path_prefix"] == f"/__realm/{zulip_realm.subdomain}"
    assert (realms[zulip_realm.subdomain]["users"], realms[zulip_realm.subdomain]["presence_rows"]) == (3, 0)
    assert zulip_realm.site == f"{zulip_mock.url}/__realm/{zulip_realm.subdomain}"
    assert zulip_realm.user(3) == ("user3@example.com", "key00000000000000000000000000003")


@pytest.mark.zulip_realm(users=5)
def test_the_marker_sizes_the_realm(zulip_realm):
    assert zulip_realm.client(5).get_profile()["email"] == "user5@example.com"
    with pytest.raises(ValueError, match="has users 1 to 5, not 6"):
        zulip_realm.user(6)


def test_the_journal_shows_what_the_client_sent(zulip_client, zulip_mock, zulip_realm):
    zulip_client.update_presence({"status": "idle", "ping_only": "true"})

    (entry,) = zulip_mock.journal(realm=zulip_realm.subdomain, path="/api/v1/users/me/presence")
    assert (entry["method"], entry["params"], entry["user"], entry["status"], entry["time"]) == (
        "POST",
        {"status": "idle", "ping_only": "true"},
        {"user_id": 1, "email": "user1@example.com"},
        200,
        FROZEN_AT,
    )
    # The client asks for the server's settings before its first request (zulip 0.9).
    assert [(e["method"], e["path"]) for e in zulip_mock.journal(realm=zulip_realm.subdomain)] == [
        ("GET", "/api/v1/server_settings"),
        ("POST", "/api/v1/users/me/presence"),
    ]
    assert zulip_mock.journal_count(realm=zulip_realm.subdomain) == 2


def test_a_fault_answers_the_client_once(zulip_client, zulip_mock, zulip_realm):
    zulip_mock.install_fault(realm=zulip_realm.subdomain, path="/api/v1/realm/presence",
                             rate_limit={"retry_after": 2.5}, times=1)

    assert zulip_client.get_realm_presence() == {
        "result": "error", "msg": "API usage exceeded rate limit", "code": "RATE_LIMIT_HIT", "retry-after": 2.5,
    }
    assert zulip_client.get_realm_presence()["result"] == "success"


def test_the_clock_moves_for_the_client(zulip_client, zulip_mock):
    zulip_mock.advance_clock("90s")

    assert zulip_mock.now() == FROZEN_AT + 90
    assert zulip_client.get_realm_presence()["server_timestamp"] == FROZEN_AT + 90


def test_a_refused_admin_request_says_what_the_admin_api_answered(zulip_mock):
    from pytest_zulip_mock import AdminError

    with pytest.raises(AdminError) as refused:
        zulip_mock.set_presence("no-such-realm", 1, "now", "now")
    assert refused.value.status == 404


def test_a_missing_binary_stops_the_run_with_one_clear_line(pytester, monkeypatch):
    monkeypatch.delenv("ZULIP_MOCK_IMAGE", raising=False)
    pytester.makepyfile("def test_it(zulip_mock): pass")
    result = pytester.runpytest_subprocess("--zulip-mock-bin", "/nonexistent/zulip-presence-mock")
    assert result.ret == 4
    result.stdout.fnmatch_lines(["*pytest-zulip-mock: /nonexistent/zulip-presence-mock is not an executable file*"])


def test_a_bad_fixture_stops_the_run_with_the_servers_own_words(pytester):
    # The binary or the image, whichever this run was given.
    pytester.makefile(".json", fixture='{"realms": 1}')
    pytester.makepyfile("def test_it(zulip_mock): pass")
    result = pytester.runpytest_subprocess("--zulip-mock-fixture", "fixture.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*RuntimeError: zulip-presence-mock exited at start:*", "*fixture.json*$.realms*"])
