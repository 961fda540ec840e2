// GraphiQL in headless Chromium (playwright-core, Debian's /usr/bin/chromium): sign up in the
// editor, confirm through the e-mail link's page, then `{ me { username } }` with the cookie.
//
// The server builds GraphiQL's assets into its binary (build.rs) and serves them itself, so the
// page must work with no internet: every request that leaves the test server is aborted and
// fails the test, and the page's Content-Security-Policy may name no other origin.

import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { offlineBrowser } from '../lib/browser.mjs';
import { stepper } from '../lib/scenario.mjs';
import { PASSWORD, TestServer } from '../lib/server.mjs';

const E2E = dirname(dirname(fileURLToPath(import.meta.url)));
const ARTIFACTS = join(E2E, 'artifacts');

let server;
let browser;
let context;
const pageErrors = [];

before(async () => {
  // Token expiry is the client tests' subject; here a slow page load must not log anyone out.
  server = await TestServer.start({ env: { ACCESS_TOKEN_TTL: '15m' } });
  await mkdir(ARTIFACTS, { recursive: true });
  // No internet: only the test server (and data: URLs) may be reached.
  browser = await offlineBrowser(server.url);
  context = browser.context;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Replaces the query in GraphiQL's editor, runs it, and returns the result pane's JSON (for a
 * subscription: the first result whose text contains `until`).
 */
async function runInGraphiQL(page, query, { until = '' } = {}) {
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  // insertText types the text as one input, so the editor's bracket auto-closing stays out of it.
  await page.keyboard.insertText(query);
  const typed = await editor.evaluate((el) => /** @type {any} */ (el).CodeMirror.getValue());
  assert.equal(typed, query, 'the editor holds exactly the query');
  // GraphiQL digests an edit after a 100 ms debounce: it saves the query to localStorage and
  // works out which operation to run. Clicking "run" before that (no person is that quick)
  // would send the previous operation's name. So wait until the query is saved.
  await page.waitForFunction((q) => localStorage.getItem('graphiql:query') === q, query, { timeout: 5000 });

  const response = page.locator('.graphiql-response .CodeMirror');
  const before = await response.evaluate((el) => /** @type {any} */ (el).CodeMirror.getValue());
  await page.locator('.graphiql-execute-button').click();
  // Wait for a new, complete JSON result in the result pane.
  const handle = await page.waitForFunction(
    ([previous, until]) => {
      const text = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror?.getValue() ?? '';
      if (!text.trim() || text === previous || !text.includes(until)) return false;
      try {
        JSON.parse(text);
        return text;
      } catch {
        return false;
      }
    },
    [before, until],
    { timeout: 15_000 },
  );
  const text = await handle.jsonValue();
  const visible = await page.locator('.graphiql-response').innerText();
  return { json: JSON.parse(text), visible };
}

test('GraphiQL in Chromium: sign up, confirm by the e-mail link, then me', { timeout: 120_000 }, async (t) => {
  const step = stepper(t);
  const username = 'graphiql_user';
  const email = `${username}@example.com`;
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  t.after(async () => {
    if (!t.passed) await page.screenshot({ path: join(ARTIFACTS, 'graphiql-failure.png') }).catch(() => {});
  });

  await step('GraphiQL renders with the internet blocked, from assets the server serves itself', async () => {
    const response = await page.goto(`${server.url}/graphiql`);
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.ok(csp.includes("script-src 'self'"), csp);
    assert.doesNotMatch(csp, /https?:|\*/, 'the CSP names no other origin');
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 30_000 });
    await page.locator('.graphiql-execute-button').waitFor({ timeout: 5000 });
    assert.deepEqual(browser.blocked, [], `requests that left the test server: ${browser.blocked.join(', ')}`);
    assert.deepEqual(pageErrors, []);
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-offline.png') });
  });

  await step('signUp from the editor', async () => {
    const { json, visible } = await runInGraphiQL(
      page,
      `mutation SignUp {\n  signUp(input: { username: "${username}", email: "${email}", password: "${PASSWORD}" }) {\n    user { username isActive }\n    message\n  }\n}`,
    );
    assert.equal(json.errors, undefined, JSON.stringify(json.errors));
    assert.deepEqual(json.data.signUp.user, { username, isActive: false });
    assert.ok(json.data.signUp.message.includes(email), json.data.signUp.message);
    assert.ok(visible.includes(username), visible);
    const names = (await context.cookies(server.url)).map((c) => c.name);
    assert.ok(!names.includes('access'), 'not logged in before the e-mail is confirmed');
  });

  await step('the e-mail link opens the verify page, which waits for Confirm: success, and the access cookie is set', async () => {
    const link = await server.verificationLink(email);
    assert.ok(link.url.startsWith(`${server.url}/verify-email?`), link.url);
    await page.goto(link.url);
    const confirm = page.locator('#confirm');
    await confirm.waitFor({ timeout: 15_000 });
    // Opening the page alone uses nothing up and logs nobody in.
    assert.equal(await page.locator('#warning').count(), 0, 'no other account is logged in here');
    assert.equal(await page.locator('#outcome').innerText(), '');
    const before = (await context.cookies(server.url)).map((c) => c.name);
    assert.ok(!before.includes('access'), 'not logged in before Confirm is pressed');
    await confirm.click();
    const outcome = page.locator('#outcome.ok');
    await outcome.waitFor({ timeout: 15_000 });
    assert.match(await outcome.innerText(), new RegExp(`^Welcome, ${username}! `));
    assert.equal(await page.locator('#next').isVisible(), true);
    await page.screenshot({ path: join(ARTIFACTS, 'verify-email.png') });
    const cookies = Object.fromEntries((await context.cookies(server.url)).map((c) => [c.name, c]));
    assert.ok(cookies.access?.value, 'access cookie');
    assert.equal(cookies.access.httpOnly, true);
    assert.equal(cookies.access.sameSite, 'Lax');
    assert.equal(cookies.username?.value, username);
  });

  await step('back in GraphiQL, { me { username } } shows the user', async () => {
    await page.goto(`${server.url}/graphiql`);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 30_000 });
    const { json, visible } = await runInGraphiQL(page, '{ me { username } }');
    assert.deepEqual(json, { data: { me: { username } } });
    assert.ok(visible.includes(`"username": "${username}"`), visible);
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-me.png') });
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(browser.blocked, [], `requests that left the test server: ${browser.blocked.join(', ')}`);
  });

  await step('a quizGeneration subscription runs over the WebSocket of /graphql to SUCCEEDED', async () => {
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const sourceText = (await readFile(join(E2E, '..', 'tests', 'fixtures', 'apollo11.txt'), 'utf8')).replace(/\s+/g, ' ');
    const started = await runInGraphiQL(
      page,
      `mutation Start {\n  startQuizGeneration(input: { topic: "Apollo 11", questionCount: 3, sourceText: ${JSON.stringify(sourceText)} }) {\n    id\n    status\n  }\n}`,
    );
    assert.equal(started.json.errors, undefined, JSON.stringify(started.json.errors));
    const id = started.json.data.startQuizGeneration.id;
    const { json, visible } = await runInGraphiQL(
      page,
      `subscription Watch {\n  quizGeneration(jobId: "${id}") {\n    status\n    progress\n    questionsReady\n    questionCount\n    quiz { title }\n  }\n}`,
      { until: 'SUCCEEDED' },
    );
    assert.deepEqual(json.data.quizGeneration, {
      status: 'SUCCEEDED',
      progress: 1,
      questionsReady: 3,
      questionCount: 3,
      quiz: { title: 'Apollo 11' },
    });
    assert.ok(visible.includes('SUCCEEDED'), visible);
    assert.deepEqual(sockets, [`${server.url.replace(/^http/, 'ws')}/graphql`]);
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql-subscription.png') });
    assert.deepEqual(pageErrors, []);
  });
});
