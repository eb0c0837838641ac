"""A bot that follows presence: it registers an event queue, long-polls it, and prints the
first presence event (docs/real-time-events.md). Usage: presence_bot.py [SITE]"""
import sys

import zulip


class Done(Exception):
    pass


def on_event(event):
    print(event, flush=True)
    raise Done


site = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9991"
client = zulip.Client(email="iago@zulip.com", api_key="huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf", site=site)
try:
    client.call_on_each_event(on_event, event_types=["presence"])
except Done:
    pass
