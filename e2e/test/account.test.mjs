// Leaving, through urql against the real server: deleteAccount erases the account, and a copy
// of its access cookie kept by another browser is refused at once.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { urqlDevice } from '../lib/clients.mjs';
import { APOLLO_11, stepper } from '../lib/scenario.mjs';
import { PASSWORD, TestServer } from '../lib/server.mjs';

let server;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

test('urql: deleteAccount erases the account and its cookie is refused', async (t) => {
  const step = stepper(t);
  const username = 'leaving_user';
  const email = `${username}@example.com`;
  const newDevice = () => urqlDevice({ url: `${server.url}/graphql` });
  const device = newDevice();
  const ok = (outcome, what) => {
    assert.deepEqual(outcome.codes, [], `${what} failed: ${JSON.stringify(outcome)}`);
    return outcome.data;
  };
  let copied;

  await step('sign up, verify and make a quiz', async () => {
    ok(await device.run('SignUp', { input: { username, email, password: PASSWORD } }), 'signUp');
    const link = await server.verificationLink(email);
    ok(await device.run('VerifyEmail', { uid: link.uid, token: link.token }), 'verifyEmail');
    ok(
      await device.run('GenerateQuiz', {
        input: { topic: 'Apollo 11', sourceText: APOLLO_11, questionCount: 3 },
      }),
      'generateQuiz',
    );
    copied = await device.http.cookie(server.url, 'access');
    assert.ok(copied?.value, 'the access cookie is set');
  });

  // Another browser holding a copy of the cookie, as a thief or a forgotten tab would.
  const other = newDevice();
  await other.http.jar.setCookie(copied.toString(), server.url);
  assert.equal(ok(await other.run('Me'), 'me').me.username, username);

  await step('a wrong confirmation deletes nothing', async () => {
    const wrong = await device.run('DeleteAccount', { confirm: 'someone_else' });
    assert.deepEqual(wrong.codes, ['BAD_USER_INPUT']);
    assert.equal(wrong.extensions[0].field, 'confirm', JSON.stringify(wrong));
    assert.equal(ok(await device.run('Me'), 'me').me.username, username);
  });

  await step('deleteAccount answers true and clears the cookies', async () => {
    const { deleteAccount } = ok(await device.run('DeleteAccount', { confirm: username }), 'deleteAccount');
    assert.equal(deleteAccount, true);
    assert.equal(await device.http.cookie(server.url, 'access'), undefined);
    assert.equal(ok(await device.run('Me'), 'me').me, null);
  });

  await step('the copied cookie is refused, and the account cannot log in', async () => {
    const refused = await other.run('Me');
    assert.deepEqual(refused.codes, ['SESSION_EXPIRED']);
    assert.equal(refused.data?.me ?? null, null);
    const login = await newDevice().run('Login', { username, password: PASSWORD });
    assert.deepEqual(login.codes, ['INVALID_CREDENTIALS']);
  });
});
