// The real zulip-js client (2.1.0) against the release binary, with node:test.
// Run by tests/run; needs ZULIP_MOCK_BIN (the binary). The server runs on a free port with the
// default fixture, its relative times made absolute here so that every timestamp is exact.

'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const zulip = require('zulip-js');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BINARY = process.env.ZULIP_MOCK_BIN || path.join(ROOT, 'target', 'release', 'zulip-presence-mock');
const NOW = Math.floor(Date.now() / 1000);
const UNITS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

const IAGO = { username: 'iago@zulip.com', apiKey: 'huG8GP38g4o5MNJAYKJ1UXXFWXLCpaNf' };
const POLONIUS = { username: 'polonius@zulip.com', apiKey: '6afaCLI71fNYmphNcWI9rQWOwjauQLKX' };

function absolute(value) {
  const match = typeof value === 'string' && /^([+-])(\d+)([smhdw])$/.exec(value);
  if (!match) return value;
  return NOW + (match[1] === '-' ? -1 : 1) * Number(match[2]) * UNITS[match[3]];
}

function defaultFixtureAtNow() {
  const fixture = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures', 'default.json'), 'utf8'));
  for (const realm of fixture.realms) {
    for (const user of realm.users) {
      if ('date_joined' in user) user.date_joined = absolute(user.date_joined);
    }
    for (const row of realm.presence || []) {
      row.last_connected_time = absolute(row.last_connected_time ?? null);
      row.last_active_time = absolute(row.last_active_time ?? null);
    }
  }
  return fixture;
}

function legacy(status, timestamp) {
  return {
    aggregated: { client: 'website', status, timestamp },
    website: { client: 'website', status, timestamp, pushable: false },
  };
}

const EVERYONE = {
  'cordelia@zulip.com': legacy('active', NOW - 7 * 86400),
  'desdemona@zulip.com': legacy('idle', NOW - 300),
  'hamlet@zulip.com': legacy('active', NOW - 80),
  'iago@zulip.com': legacy('active', NOW - 10),
  'othello@zulip.com': legacy('idle', NOW - 20),
  'polonius@zulip.com': legacy('active', NOW - 40),
  'user11@zulip.localhost': legacy('idle', NOW - 7200),
};

let server;
let realm;
let fixturePath;

before(async () => {
  fixturePath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'zulip-mock-js-')), 'fixture.json');
  fs.writeFileSync(fixturePath, JSON.stringify(defaultFixtureAtNow()));
  server = spawn(BINARY, ['--bind', '127.0.0.1:0', '--log-format', 'json', '--fixtures', fixturePath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  realm = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not report its address')), 10000);
    server.on('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    readline.createInterface({ input: server.stdout }).on('line', (line) => {
      const log = JSON.parse(line);
      if (log.fields.message === 'listening') {
        clearTimeout(timer);
        resolve(`http://${log.fields.addr}`);
      }
    });
  });
});

after(async () => {
  const exited = new Promise((resolve) => server.on('exit', resolve));
  server.kill('SIGTERM');
  assert.equal(await exited, 0);
  fs.rmSync(path.dirname(fixturePath), { recursive: true });
});

async function presenceOf(credentials, params) {
  const z = await zulip({ ...credentials, realm });
  const start = Date.now() / 1000;
  const result = await z.callEndpoint('/realm/presence', 'GET', params);
  const end = Date.now() / 1000;
  const { server_timestamp: serverTimestamp, ...rest } = result;
  assert.ok(serverTimestamp >= start - 0.001 && serverTimestamp <= end + 0.001, `${serverTimestamp}`);
  return rest;
}

test('callEndpoint reads the realm presence as Zulip sends it', async () => {
  assert.deepEqual(await presenceOf(IAGO, {}), { result: 'success', msg: '', presences: EVERYONE });
});

test('a limited guest sees only the users they can access', async () => {
  const expected = {};
  for (const email of ['cordelia@zulip.com', 'hamlet@zulip.com', 'othello@zulip.com', 'polonius@zulip.com']) {
    expected[email] = EVERYONE[email];
  }
  assert.deepEqual(await presenceOf(POLONIUS, {}), { result: 'success', msg: '', presences: expected });
});

test('unknown query parameters come back in ignored_parameters_unsupported', async () => {
  assert.deepEqual(await presenceOf(IAGO, { zeta: 'x', alpha: '1', client: 'zulip-js' }), {
    result: 'success',
    msg: '',
    presences: EVERYONE,
    ignored_parameters_unsupported: ['alpha', 'zeta'],
  });
});

test('a wrong API key gets Zulip\'s 401 body', async () => {
  const z = await zulip({ username: 'iago@zulip.com', apiKey: 'A'.repeat(32), realm });
  assert.deepEqual(await z.callEndpoint('/realm/presence'), {
    result: 'error',
    msg: 'Invalid API key',
    code: 'UNAUTHORIZED',
  });
});

test('a multipart POST to realm presence is method not allowed', async () => {
  const z = await zulip({ ...IAGO, realm });
  assert.deepEqual(await z.callEndpoint('/realm/presence', 'POST', { status: 'active' }), {
    result: 'error',
    msg: 'Method Not Allowed',
    allowed_methods: ['GET', 'HEAD'],
  });
});

test('server.settings() returns the server and realm settings', async () => {
  const z = await zulip({ ...IAGO, realm });
  assert.deepEqual(await z.server.settings(), {
    result: 'success',
    msg: '',
    authentication_methods: {
      password: true, dev: false, email: true, ldap: false, remoteuser: false, github: false,
      azuread: false, gitlab: false, google: false, apple: false, saml: false,
      'openid connect': false, discord: false,
    },
    zulip_version: '12.0-dev+git',
    zulip_merge_base: '12.0-dev+git',
    zulip_feature_level: 509,
    push_notifications_enabled: false,
    is_incompatible: false,
    email_auth_enabled: true,
    require_email_format_usernames: true,
    realm_url: 'http://localhost:9991',
    realm_name: 'Zulip Dev',
    realm_icon: '/static/images/default-avatar.png?version=0',
    realm_description: '<p>The Zulip development environment default organization.  It\'s great for testing!</p>',
    realm_web_public_access_enabled: false,
    external_authentication_methods: [],
    realm_uri: 'http://localhost:9991',
  });
});

// The tests below change the state; they run last, in this order.

const HAMLET = { username: 'hamlet@zulip.com', apiKey: 'j4PTTKtb2TxxDBfz5LJF3hBGZW3M4Fz6' };
const CORDELIA = { username: 'cordelia@zulip.com', apiKey: '4hOSDRET79IqJzQtJZPGSEZ4zBms1rac' };
// Zoe has presence_enabled off: her reports never change anything, a pure poller.
const ZOE = { username: 'ZOE@zulip.com', apiKey: 'dC3WPmETR4biPHnY4H59ikQ2lyrBIA3f' };

test('a single user\'s presence has the feature level 497 shape', async () => {
  const z = await zulip({ ...IAGO, realm });
  const { server_timestamp: serverTimestamp, ...rest } = await z.callEndpoint('/users/othello@zulip.com/presence');
  assert.equal(typeof serverTimestamp, 'number');
  assert.deepEqual(rest, {
    result: 'success',
    msg: '',
    presence: {
      active_timestamp: NOW - 200,
      idle_timestamp: NOW - 20,
      aggregated: { status: 'idle', timestamp: NOW - 20 },
      website: { status: 'idle', timestamp: NOW - 20 },
    },
  });
});

test('a multipart presence report is recorded and polling by last_update_id returns only it', async () => {
  const zoe = await zulip({ ...ZOE, realm });
  const first = await zoe.callEndpoint('/users/me/presence', 'POST', { status: 'idle', last_update_id: -1 });
  assert.equal(first.presence_last_update_id, 11);

  const before = Math.floor(Date.now() / 1000);
  const cordelia = await zulip({ ...CORDELIA, realm });
  // zulip-js cannot send a boolean in a multipart body: JSON-encoded strings, as Zulip expects.
  const report = await cordelia.callEndpoint('/users/me/presence', 'POST', {
    status: 'active', ping_only: 'true', new_user_input: 'false',
  });
  const after = Math.floor(Date.now() / 1000);
  assert.deepEqual(report, { result: 'success', msg: '' });

  const changes = await zoe.callEndpoint('/users/me/presence', 'POST', { status: 'idle', last_update_id: 11 });
  assert.equal(changes.presence_last_update_id, 12);
  assert.deepEqual(Object.keys(changes.presences), ['5']);
  const timestamp = changes.presences['5'].active_timestamp;
  assert.ok(before <= timestamp && timestamp <= after, `${before} ${timestamp} ${after}`);
  assert.deepEqual(changes.presences['5'], { active_timestamp: timestamp, idle_timestamp: timestamp });

  const seen = await (await zulip({ ...HAMLET, realm })).callEndpoint('/realm/presence');
  assert.deepEqual(seen.presences['cordelia@zulip.com'], legacy('active', timestamp));
});

test('a bad boolean gets Zulip\'s error', async () => {
  const z = await zulip({ ...HAMLET, realm });
  assert.deepEqual(await z.callEndpoint('/users/me/presence', 'POST', { status: 'active', ping_only: 'yes' }), {
    result: 'error',
    msg: 'ping_only is not valid JSON',
    code: 'BAD_REQUEST',
  });
});

async function admin(method, adminPath, body) {
  const response = await fetch(`${realm}/__admin${adminPath}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

test('a realm of its own, reached by path, sees an injected rate limit as Zulip sends it', async () => {
  const created = await admin('POST', '/realms', { subdomain: 'js', generate: { users: 2, presence: 'none' } });
  assert.equal(created.status, 201);
  try {
    const z = await zulip({
      username: 'user1@example.com',
      apiKey: 'key00000000000000000000000000001',
      realm: `${realm}${created.body.path_prefix}`,
    });
    const fault = await admin('POST', '/faults', { realm: 'js', rate_limit: { retry_after: 0.5 }, times: 1 });
    assert.equal(fault.status, 201);

    const limited = await z.callEndpoint('/realm/presence', 'GET', {});
    const served = await z.callEndpoint('/realm/presence', 'GET', {});

    assert.deepEqual(limited, {
      result: 'error', msg: 'API usage exceeded rate limit', code: 'RATE_LIMIT_HIT', 'retry-after': 0.5,
    });
    assert.equal(served.result, 'success');
    assert.deepEqual(served.presences, {});
    const journal = await admin('GET', '/requests?realm=js&path=/api/v1/realm/presence');
    assert.deepEqual(journal.body.requests.map((entry) => [entry.status, entry.user.email]), [
      [429, 'user1@example.com'],
      [200, 'user1@example.com'],
    ]);
  } finally {
    assert.equal((await admin('DELETE', '/realms/js')).status, 204);
  }
});

test('a registered queue long-polls and receives the presence event of another client\'s report', async () => {
  const iago = await zulip({ ...IAGO, realm });
  // Othello was last active 200 s ago (no earlier test reports as him): an active report
  // brings him online.
  const othello = await zulip({ username: 'othello@zulip.com', apiKey: 'Hq2AK7EGHZbKoXi0d9TH4QgTNBEjE4o2', realm });
  const registered = await iago.callEndpoint('/register', 'POST', { event_types: JSON.stringify(['presence']) });
  assert.equal(registered.result, 'success');
  assert.equal(registered.last_event_id, -1);
  assert.deepEqual(registered.presences['othello@zulip.com'], EVERYONE['othello@zulip.com']);

  const polling = iago.callEndpoint('/events', 'GET', { queue_id: registered.queue_id, last_event_id: -1 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = Math.floor(Date.now() / 1000);
  await othello.callEndpoint('/users/me/presence', 'POST', { status: 'active' });
  const after = Math.floor(Date.now() / 1000);
  const events = await polling;

  assert.equal(events.result, 'success');
  assert.equal(events.queue_id, registered.queue_id);
  assert.equal(events.events.length, 1);
  const [event] = events.events;
  const { timestamp } = event.presence.website;
  assert.ok(before <= timestamp && timestamp <= after, `${timestamp}`);
  assert.deepEqual(
    { ...event, server_timestamp: 0 },
    {
      type: 'presence', user_id: 4, email: 'othello@zulip.com', server_timestamp: 0,
      presence: { website: { client: 'website', status: 'active', timestamp, pushable: false } },
      id: 0,
    },
  );
});

// The user directory through zulip-js's users resource, whole bodies.

/** date_joined as Zulip writes it: to the minute, in UTC. */
function joined(daysAgo) {
  return `${new Date((NOW - daysAgo * 86400) * 1000).toISOString().slice(0, 16)}+00:00`;
}

function gravatar(email, medium = false) {
  const digest = require('node:crypto').createHash('md5').update(email.toLowerCase()).digest('hex');
  return `https://secure.gravatar.com/avatar/${digest}?d=identicon${medium ? '&s=500' : ''}&version=1`;
}

function human(userId, email, fullName, role, daysAgo, extra = {}) {
  return {
    email, user_id: userId, avatar_version: 1,
    is_admin: role <= 200, is_owner: role === 100, is_guest: role === 600, role,
    is_bot: false, full_name: fullName, timezone: '', is_active: true,
    date_joined: joined(daysAgo), delivery_email: email, is_imported_stub: false, avatar_url: null,
    ...extra,
  };
}

test('users.retrieve lists the realm as Zulip does, with its parameters', async () => {
  const z = await zulip({ ...IAGO, realm });

  const all = await z.users.retrieve();
  const some = await z.users.retrieve({ user_ids: JSON.stringify([3, 11]), client_gravatar: 'false' });

  assert.equal(all.result, 'success');
  assert.deepEqual(all.members.map((m) => m.user_id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(all.members[2], human(3, 'hamlet@zulip.com', 'King Hamlet', 400, 300));
  assert.deepEqual(some, {
    result: 'success',
    msg: '',
    members: [
      human(3, 'hamlet@zulip.com', 'King Hamlet', 400, 300, { avatar_url: gravatar('hamlet@zulip.com') }),
      human(11, 'user11@zulip.localhost', 'Zoe', 400, 100, {
        delivery_email: 'ZOE@zulip.com', avatar_url: gravatar('ZOE@zulip.com'),
      }),
    ],
  });
});

test('users.me.getProfile is the requester, with max_message_id', async () => {
  const z = await zulip({ ...HAMLET, realm });

  assert.deepEqual(await z.users.me.getProfile(), {
    result: 'success',
    msg: '',
    ...human(3, 'hamlet@zulip.com', 'King Hamlet', 400, 300, { avatar_url: gravatar('hamlet@zulip.com') }),
    // Hamlet's custom profile fields, as Zulip's development realm has them (fixtures/default.json).
    profile_data: JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures', 'default.json'), 'utf8'))
      .realms[0].users[2].profile_data,
    max_message_id: -1,
  });
});

test('a user by id through callEndpoint, and Zulip\'s error for an unknown one', async () => {
  const z = await zulip({ ...POLONIUS, realm });

  assert.deepEqual(await z.callEndpoint('/users/3', 'GET'), {
    result: 'success', msg: '', user: human(3, 'hamlet@zulip.com', 'King Hamlet', 400, 300),
  });
  assert.deepEqual(await z.callEndpoint('/users/1', 'GET'), {
    result: 'error', msg: 'Insufficient permission', code: 'BAD_REQUEST',
  });
});
