// Passkeys in headless Chromium (playwright-core, Debian's /usr/bin/chromium) with a virtual
// authenticator (CDP `WebAuthn.addVirtualAuthenticator`: CTAP2, built in, resident keys, user
// verification): register a passkey on a logged-in page (after reauthenticating), then log in
// with it on a fresh page, without a username and by username (discoverable credential both
// times: the options never list credentials). The page does what a frontend
// does: it decodes the base64url fields of the server's options into ArrayBuffers for
// navigator.credentials.create / .get and encodes the result back for the finish mutations.
//
// WebAuthn needs a secure context and a relying party id that is a domain, so the pages are
// opened on http://localhost (not 127.0.0.1), with WEBAUTHN_RP_ID / WEBAUTHN_RP_ORIGIN naming it.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { offlineBrowser } from '../lib/browser.mjs';
import { stepper } from '../lib/scenario.mjs';
import { PASSWORD, TestServer } from '../lib/server.mjs';

const E2E = dirname(dirname(fileURLToPath(import.meta.url)));
const ARTIFACTS = join(E2E, 'artifacts');

let server;
let origin;
let browser;
let context;

before(async () => {
  server = await TestServer.start({
    env: (port) => ({
      ACCESS_TOKEN_TTL: '15m',
      WEBAUTHN_RP_ID: 'localhost',
      WEBAUTHN_RP_ORIGIN: `http://localhost:${port}`,
    }),
  });
  origin = `http://localhost:${server.port}`;
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await offlineBrowser(origin);
  context = browser.context;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page of the server's origin with a virtual platform authenticator attached. */
async function pageWithAuthenticator() {
  const page = await context.newPage();
  await page.goto(`${origin}/graphiql`);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { page, cdp, authenticatorId };
}

/** Runs a GraphQL operation from the page (its cookies, its origin). */
function gql(page, query, variables = {}) {
  return page.evaluate(async ([query, variables]) => {
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query, variables }),
    });
    return response.json();
  }, [query, variables]);
}

/**
 * In the page: navigator.credentials.create (`ceremony` "create") or .get ("get") with the
 * server's options, returning the credential serialised as the finish mutations take it.
 */
function ceremony(page, kind, options) {
  return page.evaluate(
    async ([kind, options]) => {
      const decode = (text) => {
        const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
        const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
        return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
      };
      const encode = (buffer) =>
        btoa(String.fromCharCode(...new Uint8Array(buffer)))
          .replace(/\+/g, '-')
          .replace(/\//g, '_')
          .replace(/=+$/, '');
      const descriptors = (list) => (list ?? []).map((d) => ({ ...d, id: decode(d.id) }));
      const publicKey = { ...options.publicKey, challenge: decode(options.publicKey.challenge) };
      if (kind === 'create') {
        publicKey.user = { ...publicKey.user, id: decode(publicKey.user.id) };
        publicKey.excludeCredentials = descriptors(publicKey.excludeCredentials);
        const credential = /** @type {PublicKeyCredential} */ (await navigator.credentials.create({ publicKey }));
        const response = /** @type {AuthenticatorAttestationResponse} */ (credential.response);
        return {
          id: credential.id,
          rawId: encode(credential.rawId),
          type: credential.type,
          response: {
            attestationObject: encode(response.attestationObject),
            clientDataJSON: encode(response.clientDataJSON),
          },
          clientExtensionResults: credential.getClientExtensionResults(),
        };
      }
      publicKey.allowCredentials = descriptors(publicKey.allowCredentials);
      const credential = /** @type {PublicKeyCredential} */ (await navigator.credentials.get({ publicKey }));
      const response = /** @type {AuthenticatorAssertionResponse} */ (credential.response);
      return {
        id: credential.id,
        rawId: encode(credential.rawId),
        type: credential.type,
        response: {
          authenticatorData: encode(response.authenticatorData),
          clientDataJSON: encode(response.clientDataJSON),
          signature: encode(response.signature),
          userHandle: response.userHandle ? encode(response.userHandle) : null,
        },
        clientExtensionResults: credential.getClientExtensionResults(),
      };
    },
    [kind, options],
  );
}

const noErrors = (json) => assert.equal(json.errors, undefined, JSON.stringify(json.errors));

test('passkeys in Chromium: register with a virtual authenticator, then log in with it', { timeout: 120_000 }, async (t) => {
  const step = stepper(t);
  const username = 'passkey_user';
  const email = `${username}@example.com`;
  const { page, cdp, authenticatorId } = await pageWithAuthenticator();
  t.after(async () => {
    if (!t.passed) await page.screenshot({ path: join(ARTIFACTS, 'passkeys-failure.png') }).catch(() => {});
  });
  let credentialId;

  await step('sign up and confirm the address: the page is logged in', async () => {
    noErrors(
      await gql(page, 'mutation($i: SignUpInput!) { signUp(input: $i) { user { username } } }', {
        i: { username, email, password: PASSWORD },
      }),
    );
    const link = await server.verificationLink(email);
    noErrors(
      await gql(page, 'mutation($u: String!, $t: String!) { verifyEmail(uid: $u, token: $t) { user { username } } }', {
        u: link.uid,
        t: link.token,
      }),
    );
    assert.deepEqual(await gql(page, '{ me { username passkeys { name } } }'), {
      data: { me: { username, passkeys: [] } },
    });
  });

  await step('reauthenticate, then startPasskeyRegistration, navigator.credentials.create, finishPasskeyRegistration', async () => {
    // Adding a passkey needs a recent authentication of the session.
    const reauthenticated = await gql(page, 'mutation($p: String) { reauthenticate(password: $p) }', { p: PASSWORD });
    noErrors(reauthenticated);
    assert.equal(reauthenticated.data.reauthenticate, true);
    const started = await gql(page, 'mutation { startPasskeyRegistration { challengeId options } }');
    noErrors(started);
    const { challengeId, options } = started.data.startPasskeyRegistration;
    assert.equal(options.publicKey.rp.id, 'localhost');
    const credential = await ceremony(page, 'create', options);
    const finished = await gql(
      page,
      'mutation($c: ID!, $cred: JSON!) { finishPasskeyRegistration(challengeId: $c, credential: $cred, name: "Chromium") { id name lastUsedAt } }',
      { c: challengeId, cred: credential },
    );
    noErrors(finished);
    assert.equal(finished.data.finishPasskeyRegistration.name, 'Chromium');
    assert.equal(finished.data.finishPasskeyRegistration.lastUsedAt, null);
    credentialId = credential.rawId;
    // The virtual authenticator holds it as a resident (discoverable) credential.
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0].isResidentCredential, true);
    const me = await gql(page, '{ me { passkeys { name } } }');
    assert.deepEqual(me.data.me.passkeys, [{ name: 'Chromium' }]);
  });

  await step('log out: the page is nobody', async () => {
    noErrors(await gql(page, 'mutation { logout { message } }'));
    assert.deepEqual(await gql(page, '{ me { username } }'), { data: { me: null } });
    const names = (await context.cookies(origin)).map((c) => c.name);
    assert.ok(!names.includes('access'), names.join(', '));
  });

  for (const by of [null, username]) {
    await step(`startPasskeyLogin(${by ? 'username' : 'no username'}), navigator.credentials.get, finishPasskeyLogin: logged in`, async () => {
      const started = await gql(page, 'mutation($u: String) { startPasskeyLogin(username: $u) { challengeId options } }', { u: by });
      noErrors(started);
      const { challengeId, options } = started.data.startPasskeyLogin;
      // No credentials are listed, by username or not: the answer says nothing about the account.
      const allowed = (options.publicKey.allowCredentials ?? []).map((c) => c.id);
      assert.deepEqual(allowed, []);
      const credential = await ceremony(page, 'get', options);
      assert.equal(credential.rawId, credentialId);
      const finished = await gql(
        page,
        'mutation($c: ID!, $cred: JSON!) { finishPasskeyLogin(challengeId: $c, credential: $cred) { user { username } message } }',
        { c: challengeId, cred: credential },
      );
      noErrors(finished);
      assert.equal(finished.data.finishPasskeyLogin.user.username, username);
      const cookies = Object.fromEntries((await context.cookies(origin)).map((c) => [c.name, c]));
      assert.ok(cookies.access?.value, 'access cookie');
      assert.equal(cookies.access.httpOnly, true);
      const me = await gql(page, '{ me { username passkeys { name lastUsedAt } } }');
      assert.equal(me.data.me.username, username);
      assert.ok(me.data.me.passkeys[0].lastUsedAt, JSON.stringify(me));
      noErrors(await gql(page, 'mutation { logout { message } }'));
    });
  }

  await step('the same signed answer does not log in twice', async () => {
    const started = await gql(page, 'mutation { startPasskeyLogin { challengeId options } }');
    const { challengeId, options } = started.data.startPasskeyLogin;
    const credential = await ceremony(page, 'get', options);
    const finish = () =>
      gql(page, 'mutation($c: ID!, $cred: JSON!) { finishPasskeyLogin(challengeId: $c, credential: $cred) { user { username } } }', {
        c: challengeId,
        cred: credential,
      });
    noErrors(await finish());
    const again = await finish();
    assert.equal(again.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(again));
    await page.screenshot({ path: join(ARTIFACTS, 'passkeys.png') });
    assert.deepEqual(browser.blocked, [], `requests that left the test server: ${browser.blocked.join(', ')}`);
  });
});
