// A guest through urql against the real server: a session without an account, then signing up
// in place with the e-mailed confirmation.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { urqlDevice } from '../lib/clients.mjs';
import { stepper } from '../lib/scenario.mjs';
import { PASSWORD, TestServer } from '../lib/server.mjs';

let server;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

test('urql: startGuestSession, me.isGuest, upgradeGuest keeps the id', async (t) => {
  const step = stepper(t);
  const device = urqlDevice({ url: `${server.url}/graphql` });
  const ok = (outcome, what) => {
    assert.deepEqual(outcome.codes, [], `${what} failed: ${JSON.stringify(outcome)}`);
    return outcome.data;
  };
  let guestId;

  await step('startGuestSession logs a guest in', async () => {
    const { startGuestSession } = ok(await device.run('StartGuestSession'), 'startGuestSession');
    guestId = startGuestSession.user.id;
    assert.equal(startGuestSession.user.isGuest, true);
    assert.match(startGuestSession.user.username, /^guest#[0-9a-f]{16}$/);
    assert.ok((await device.http.cookie(server.url, 'access'))?.value, 'the access cookie is set');
    const { me } = ok(await device.run('MeGuest'), 'me');
    assert.equal(me.id, guestId);
    assert.equal(me.isGuest, true);
    const { sessions } = ok(await device.run('SignInMethods'), 'sessions');
    assert.deepEqual(sessions.map((s) => s.signInMethod), ['GUEST']);
  });

  await step('upgradeGuest signs up in place; the link logs in as the same user', async () => {
    const email = 'former_guest@example.com';
    const input = { username: 'former_guest', email, password: PASSWORD };
    const { upgradeGuest } = ok(await device.run('UpgradeGuest', { input }), 'upgradeGuest');
    assert.equal(upgradeGuest.user.id, guestId);
    assert.equal(upgradeGuest.user.isGuest, false);
    assert.equal(upgradeGuest.user.isActive, false);
    const link = await server.verificationLink(email);
    assert.equal(link.uid, guestId);
    ok(await device.run('VerifyEmail', { uid: link.uid, token: link.token }), 'verifyEmail');
    const { me } = ok(await device.run('MeGuest'), 'me');
    assert.deepEqual([me.id, me.isGuest, me.username], [guestId, false, 'former_guest']);
  });
});
