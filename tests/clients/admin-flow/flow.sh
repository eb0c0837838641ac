#!/usr/bin/env bash
# A contract test's whole flow from HTTP alone, as docs/admin-api.md shows it: a realm of its own,
# presence, a frozen clock, the real Python client, what it sent, an injected rate limit, clean-up.
# MOCK is the server's base URL; PYTHON a Python with the zulip package.
set -euo pipefail
MOCK=${MOCK:-http://127.0.0.1:9991}
PYTHON=${PYTHON:-python3}
admin() { curl -sS --fail-with-body -X "$1" "$MOCK/__admin$2" -H 'Content-Type: application/json' ${3:+-d "$3"}; echo; }

# 1. A realm of its own (users user1..3@example.com), on its own host or path prefix.
admin POST /realms '{"subdomain": "flow", "generate": {"users": 3, "presence": "none"}}'

# 2. Freeze time, then give user 2 a presence 30 s old.
admin POST /time/freeze '{"at": "2026-01-01T00:00:00Z"}'
admin PUT /realms/flow/presence/2 '{"last_connected_time": "-30s", "last_active_time": "-30s"}'

# 3. The client under test reports presence (its site names the realm by path).
"$PYTHON" - "$MOCK/__realm/flow" <<'PY'
import sys, zulip
client = zulip.Client(email="user1@example.com", api_key="key00000000000000000000000000001",
                      site=sys.argv[1], retry_on_errors=False)
print(client.update_presence({"status": "active"}))
PY

# 4. What did the client send?
admin GET '/requests?realm=flow&path=/api/v1/users/me/presence'

# 5. The next request is rate limited, exactly as Zulip does it.
admin POST /faults '{"realm": "flow", "rate_limit": {"retry_after": 2.5}, "times": 1}'
curl -sS -i -u user1@example.com:key00000000000000000000000000001 "$MOCK/__realm/flow/api/v1/realm/presence"
echo

# 6. Clean up.
admin DELETE /realms/flow
admin POST /time/system
