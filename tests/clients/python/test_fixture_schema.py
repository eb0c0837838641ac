"""fixtures/fixture.schema.json describes the fixtures the server accepts."""

import json
import os
import unittest

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = os.path.join(ROOT, "fixtures")


def load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


class FixtureSchemaTest(unittest.TestCase):
    def setUp(self):
        schema = load("fixture.schema.json")
        jsonschema.Draft202012Validator.check_schema(schema)
        self.validator = jsonschema.Draft202012Validator(schema)

    def test_every_fixture_in_the_repository_follows_the_schema(self):
        names = [n for n in os.listdir(FIXTURES) if n.endswith(".json") and not n.endswith(".schema.json")]
        self.assertIn("default.json", names)
        for name in names:
            self.validator.validate(load(name))

    def test_the_schema_refuses_what_the_server_refuses(self):
        for change in [
            lambda f: f["realms"][0]["users"][0].update(nickname="x"),
            lambda f: f["realms"][0]["users"][0].update(api_key="short"),
            lambda f: f["realms"][0]["users"][0].update(role="king"),
            lambda f: f["realms"][0]["presence"][0].update(last_active_time="-5y"),
            lambda f: f["realms"][0].update(subdomain="Lear"),
            lambda f: f.update(realms=[]),
        ]:
            fixture = load("default.json")
            change(fixture)
            self.assertFalse(self.validator.is_valid(fixture))


if __name__ == "__main__":
    unittest.main()
