// Two-factor login through urql against the real server: the codes an authenticator app would
// show are computed here (RFC 6238: HMAC-SHA1 over the 30-second step, six digits) from the
// secret startTotpEnrollment hands out.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { urqlDevice } from '../lib/clients.mjs';
import { stepper } from '../lib/scenario.mjs';
import { PASSWORD, TestServer } from '../lib/server.mjs';

const STEP_MS = 30_000;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** @param {string} text base32 (RFC 4648, padding optional) */
function base32Decode(text) {
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${text}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** The six-digit code for `key` at `atMs` (RFC 4226's dynamic truncation). */
function totp(key, atMs) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / STEP_MS)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

let server;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

test('the code generator matches RFC 6238', () => {
  // The RFC's SHA-1 vector: 94287082 at 59 s, of which an app shows the last six digits.
  assert.equal(totp(Buffer.from('12345678901234567890'), 59_000), '287082');
  assert.equal(base32Decode('GEZDGNBV').toString(), '12345');
});

test('urql: TOTP enrollment, login with a second step, replay refused', async (t) => {
  const step = stepper(t);
  const username = 'totp_user';
  const email = `${username}@example.com`;
  const device = urqlDevice({ url: `${server.url}/graphql` });
  const ok = (outcome, what) => {
    assert.deepEqual(outcome.codes, [], `${what} failed: ${JSON.stringify(outcome)}`);
    return outcome.data;
  };
  let secret;
  let usedCode;

  await step('sign up and confirm the address', async () => {
    ok(await device.run('SignUp', { input: { username, email, password: PASSWORD } }), 'signUp');
    const link = await server.verificationLink(email);
    ok(await device.run('VerifyEmail', { uid: link.uid, token: link.token }), 'verifyEmail');
  });

  await step('reauthenticate, then startTotpEnrollment and confirmTotpEnrollment with a computed code', async () => {
    // Changing a sign-in factor needs a recent authentication of the session.
    const { reauthenticate } = ok(await device.run('Reauthenticate', { password: PASSWORD }), 'reauthenticate');
    assert.equal(reauthenticate, true);
    const { startTotpEnrollment } = ok(await device.run('StartTotpEnrollment'), 'startTotpEnrollment');
    secret = base32Decode(startTotpEnrollment.secret);
    assert.match(startTotpEnrollment.otpauthUri, /^otpauth:\/\/totp\//);
    assert.match(startTotpEnrollment.otpauthUri, new RegExp(`secret=${startTotpEnrollment.secret}`));
    const { confirmTotpEnrollment } = ok(
      await device.run('ConfirmTotpEnrollment', { code: totp(secret, Date.now()) }),
      'confirmTotpEnrollment',
    );
    assert.equal(confirmTotpEnrollment.length, 10);
  });

  await step('logout, then login answers MFA_REQUIRED with an mfaToken and no cookie', async () => {
    ok(await device.run('Logout'), 'logout');
    const login = await device.run('Login', { username, password: PASSWORD });
    assert.deepEqual(login.codes, ['MFA_REQUIRED']);
    assert.equal(await device.http.cookie(server.url, 'access'), undefined);
    const mfaToken = login.extensions[0].mfaToken;
    assert.equal(typeof mfaToken, 'string');
    // The code of the next step: the server allows one step of drift, and the code that
    // confirmed enrollment (this step's) is spent.
    usedCode = totp(secret, Date.now() + STEP_MS);
    const { verifyMfa } = ok(await device.run('VerifyMfa', { mfaToken, code: usedCode }), 'verifyMfa');
    assert.equal(verifyMfa.user.username, username);
    assert.equal(verifyMfa.user.mfaEnabled, true);
    assert.ok((await device.http.cookie(server.url, 'access'))?.value, 'logged in: the access cookie is set');
  });

  await step('logged in: me works, and the session says MFA', async () => {
    const { me } = ok(await device.run('Me'), 'me');
    assert.equal(me.username, username);
    const { sessions } = ok(await device.run('SignInMethods'), 'sessions');
    assert.equal(sessions.find((s) => s.current)?.signInMethod, 'MFA');
  });

  await step('the same code again is refused', async () => {
    const other = urqlDevice({ url: `${server.url}/graphql` });
    const login = await other.run('Login', { username, password: PASSWORD });
    assert.deepEqual(login.codes, ['MFA_REQUIRED']);
    const replay = await other.run('VerifyMfa', { mfaToken: login.extensions[0].mfaToken, code: usedCode });
    assert.deepEqual(replay.codes, ['INVALID_MFA_CODE']);
    assert.equal(await other.http.cookie(server.url, 'access'), undefined);
  });
});
