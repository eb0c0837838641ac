"""pytest fixtures for zulip-presence-mock: `zulip_mock`, `zulip_realm`, `zulip_client`."""

from .plugin import AdminError, Credentials, MockServer, Realm

__all__ = ["AdminError", "Credentials", "MockServer", "Realm"]
