// Signing in with an OpenID Connect provider, in Chromium, the whole way: the page asks the
// server for the provider's URL, the browser signs in on the provider's own login and consent
// pages (npm's oidc-provider, run here on 127.0.0.1), comes back through the server's callback
// and lands on returnTo, logged in with the HttpOnly cookie.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { offlineBrowser } from '../lib/browser.mjs';
import { stepper } from '../lib/scenario.mjs';
import { TestServer } from '../lib/server.mjs';

const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const CLIENT = { client_id: 'quiz-llm-e2e', client_secret: 'e2e-client-secret-0123456789' };

let provider;
let issuer;
let server;
let browser;

/** The provider's install folder: as exported by scripts/test.sh, else installed now. */
function providerDir() {
  if (process.env.OIDC_TEST_PROVIDER_DIR) return process.env.OIDC_TEST_PROVIDER_DIR;
  const exports = execFileSync(join(REPO, 'scripts/oidc-test-provider.sh'), ['install'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const dir = /OIDC_TEST_PROVIDER_DIR=(\S+)/.exec(exports)?.[1];
  assert.ok(dir, `scripts/oidc-test-provider.sh install printed no folder: ${exports}`);
  return dir.replace(/^['"]|['"]$/g, '');
}

before(async () => {
  const dir = providerDir();
  provider = spawn(process.execPath, [join(REPO, 'tests/support/oidc-provider/server.mjs')], {
    env: {
      ...process.env,
      PORT: '0',
      OIDC_TEST_PROVIDER_DIR: dir,
      OIDC_TEST_CLIENTS: JSON.stringify([CLIENT]),
      OIDC_TEST_ACCOUNTS: JSON.stringify({
        erin: { email: 'erin@example.com', email_verified: true, preferred_username: 'erin' },
      }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: provider.stdout });
  const [first] = await Promise.race([
    once(lines, 'line'),
    once(provider, 'exit').then(([code]) => {
      throw new Error(`the OpenID provider exited (${code}) before it listened`);
    }),
  ]);
  issuer = JSON.parse(first).issuer;
  server = await TestServer.start({
    env: {
      OIDC_PROVIDERS: 'corp',
      OIDC_CORP_ISSUER: issuer,
      OIDC_CORP_CLIENT_ID: CLIENT.client_id,
      OIDC_CORP_CLIENT_SECRET: CLIENT.client_secret,
      OIDC_CORP_DISPLAY_NAME: 'Corp SSO',
    },
  });
  browser = await offlineBrowser([server.url, new URL(issuer).origin]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  provider?.kill();
});

/** Runs a GraphQL operation from the page, as its script would (cookies, same origin). */
function gql(page, query, variables = {}) {
  return page.evaluate(
    async ({ query, variables }) => {
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    },
    { query, variables },
  );
}

test('Chromium signs in through the provider and lands on returnTo, logged in', async (t) => {
  const step = stepper(t);
  const page = await browser.context.newPage();
  const returnTo = `${server.url}/healthz?from=sign-in`;
  let authorizationUrl;

  await step('the login page lists the provider and starts a sign-in', async () => {
    await page.goto(`${server.url}/healthz`);
    const listed = await gql(page, '{ socialProviders { name displayName } }');
    assert.deepEqual(listed.data.socialProviders, [{ name: 'corp', displayName: 'Corp SSO' }]);
    const started = await gql(
      page,
      'mutation($r: String!) { startSocialLogin(provider: "corp", returnTo: $r) { authorizationUrl } }',
      { r: returnTo },
    );
    authorizationUrl = started.data?.startSocialLogin?.authorizationUrl;
    assert.ok(authorizationUrl?.startsWith(issuer), JSON.stringify(started));
  });

  await step("the person signs in on the provider's own pages", async () => {
    await page.goto(authorizationUrl);
    await page.locator('input[name="login"]').fill('erin');
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').first().click();
    // The consent page, then back through the server's callback to returnTo.
    await page.locator('button[type="submit"]').first().click();
    await page.waitForURL((url) => url.href.startsWith(`${server.url}/healthz`));
    assert.equal(page.url(), returnTo);
  });

  await step('the page is logged in as the new account, with a cookie no script can read', async () => {
    const me = await gql(page, '{ me { username email isActive socialAccounts { provider } } sessions { signInMethod } }');
    assert.deepEqual(me.data.me, {
      username: 'erin',
      email: 'erin@example.com',
      isActive: true,
      socialAccounts: [{ provider: 'corp' }],
    });
    assert.deepEqual(me.data.sessions, [{ signInMethod: 'SOCIAL' }]);
    const cookies = await page.evaluate(() => document.cookie);
    assert.match(cookies, /username=erin/);
    assert.doesNotMatch(cookies, /access=/);
  });

  // The provider's development login page asks for a web font; that, and nothing else, stayed
  // blocked: the sign-in needs no origin but the server's and the provider's.
  const elsewhere = browser.blocked.filter((url) => !url.startsWith('https://fonts.googleapis.com/'));
  assert.deepEqual(elsewhere, [], 'nothing else outside the server and the provider was reached');
});
