// The scenario both client tests (urql, Apollo Client) go through: sign up, confirm the e-mail,
// generate and answer a quiz, read the graded result, survive access token expiry through the
// client's refresh piece (src/), and log out. Each test file supplies "devices": one client
// with its own cookie jar, behind a small adapter.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ACCESS_TOKEN_TTL_MS, PASSWORD } from './server.mjs';

export const APOLLO_11 = readFileSync(new URL('../../tests/fixtures/apollo11.txt', import.meta.url), 'utf8');

/**
 * @typedef {{ data: any, codes: string[] }} Outcome  `codes`: the errors' `extensions.code`s
 * @typedef {object} Device  one browser: a client, its cookie jar and what it sent
 * @property {(operation: string, variables?: object) => Promise<Outcome>} run
 *   runs an operation from e2e/operations by name (queries skip the client cache)
 * @property {ReturnType<typeof import('./browser-fetch.mjs').browserFetch>} http
 * @property {unknown[]} sessionExpired  errors passed to the refresh piece's onSessionExpired
 */

/** Runs `fn` as a subtest unless an earlier step failed (then it is skipped, not failed). */
export function stepper(t) {
  let broken = false;
  return async (name, fn) =>
    t.test(name, { skip: broken && 'an earlier step failed' }, async (st) => {
      try {
        await fn(st);
      } catch (err) {
        broken = true;
        throw err;
      }
    });
}

/** Data without the `__typename`s the clients' caches add to every selection. */
const plain = (value) =>
  Array.isArray(value)
    ? value.map(plain)
    : value && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).filter(([k]) => k !== '__typename').map(([k, v]) => [k, plain(v)]))
      : value;

/** The device, with results as plain data. */
const withPlainData = (device) => ({
  ...device,
  run: async (operation, variables) => {
    const outcome = await device.run(operation, variables);
    return { ...outcome, data: plain(outcome.data) };
  },
});

const ok = (outcome, what) => {
  assert.deepEqual(outcome.codes, [], `${what} failed: ${JSON.stringify(outcome)}`);
  return outcome.data;
};

/** The choice that turns the question's sentence back into a sentence of the text. */
export function solve(question, text) {
  const sentence = question.content.match(/"(.+)"/s)?.[1];
  assert.ok(sentence, `no quoted sentence in question: ${question.content}`);
  const flat = text.replace(/\s+/g, ' ');
  const fits = question.choices.filter((c) => flat.includes(sentence.replace(/_{3,}/g, c.content)));
  assert.equal(fits.length, 1, `exactly one choice should complete "${sentence}": ${JSON.stringify(question.choices)}`);
  return fits[0].number;
}

/** What the device sent since `mark`, as `Operation:CODES` (or `Operation:ok`). */
const wire = (device, mark) =>
  device.http.since(mark).map((r) => `${r.operationName}:${r.codes.length ? r.codes.join(',') : 'ok'}`);

/**
 * Waits until the device's access token has expired: a plain request with its cookies (not
 * through the client, so nothing refreshes) gets TOKEN_EXPIRED.
 */
export async function waitForExpiry(device, server) {
  const deadline = Date.now() + ACCESS_TOKEN_TTL_MS + 3000;
  for (;;) {
    const res = await device.http.fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A device naming trusted documents sends the probe's id instead (see lib/clients.mjs).
      body: JSON.stringify({
        operationName: 'ExpiryProbe',
        ...(device.documentIdOf
          ? { documentId: device.documentIdOf('ExpiryProbe') }
          : { query: 'query ExpiryProbe { sessions { id } }' }),
      }),
    });
    const body = await res.json();
    const code = body.errors?.[0]?.extensions?.code;
    if (code === 'TOKEN_EXPIRED') return;
    assert.ok(!code, `unexpected error while waiting for expiry: ${JSON.stringify(body)}`);
    assert.ok(Date.now() < deadline, 'the access token did not expire');
    await sleep(200);
  }
}

/**
 * @param {import('node:test').TestContext} t
 * @param {{ server: import('./server.mjs').TestServer, newDevice: () => Device, username: string }} options
 */
export async function accountAndQuizScenario(t, { server, newDevice, username }) {
  const step = stepper(t);
  const email = `${username}@example.com`;
  const newPlainDevice = () => withPlainData(newDevice());
  const device = newPlainDevice();
  const cookie = (name) => device.http.cookie(server.url, name);
  let quiz, correct, result;

  await step('signUp creates an inactive user and e-mails a link; no login yet', async () => {
    const { signUp } = ok(
      await device.run('SignUp', { input: { username, email, password: PASSWORD } }),
      'signUp',
    );
    assert.equal(signUp.user.username, username);
    assert.equal(signUp.user.email, email);
    assert.equal(signUp.user.isActive, false);
    assert.match(signUp.message, new RegExp(email.replace('.', '\\.')));
    assert.equal(await cookie('access'), undefined);
    assert.equal(ok(await device.run('Me'), 'me').me, null);
  });

  await step('verifyEmail with the link from the e-mail logs in (cookies set)', async () => {
    const link = await server.verificationLink(email);
    assert.ok(link.url.startsWith(`${server.url}/verify-email?`), link.url);
    const before = Date.now();
    const { verifyEmail } = ok(await device.run('VerifyEmail', { uid: link.uid, token: link.token }), 'verifyEmail');
    assert.equal(verifyEmail.user.username, username);
    assert.equal(verifyEmail.user.isActive, true);
    assert.match(verifyEmail.message, /verified/i);
    const expiresIn = Date.parse(verifyEmail.accessTokenExpiresAt) - before;
    assert.ok(expiresIn > 0 && expiresIn <= ACCESS_TOKEN_TTL_MS + 1000, `expires in ${expiresIn} ms`);
    const access = await cookie('access');
    assert.ok(access?.value, 'the access cookie is set');
    assert.equal(access.httpOnly, true);
    assert.equal((await cookie('username'))?.value, username);
    // The link works once.
    const again = await device.run('VerifyEmail', { uid: link.uid, token: link.token });
    assert.deepEqual(again.codes, ['INVALID_TOKEN']);
  });

  await step('me returns the logged-in user', async () => {
    const { me } = ok(await device.run('Me'), 'me');
    assert.deepEqual(me, { id: me.id, username, email, isActive: true });
    assert.match(me.id, /^[0-9a-f-]{36}$/);
  });

  await step('generateQuiz builds a quiz offline from the study text', async () => {
    ({ generateQuiz: quiz } = ok(
      await device.run('GenerateQuiz', {
        input: { topic: 'Apollo 11', sourceText: APOLLO_11, questionCount: 4, choiceCount: 4, difficulty: 'EASY' },
      }),
      'generateQuiz',
    ));
    assert.equal(quiz.source, 'OFFLINE');
    assert.equal(quiz.topic, 'Apollo 11');
    assert.equal(quiz.title, 'Apollo 11');
    assert.equal(quiz.difficulty, 'EASY');
    assert.equal(quiz.language, 'en');
    assert.equal(quiz.questionCount, 4);
    assert.deepEqual(quiz.questions.map((q) => q.number), [1, 2, 3, 4]);
    for (const q of quiz.questions) {
      assert.equal(q.answerType, 'MULTIPLE_CHOICE');
      assert.deepEqual(q.choices.map((c) => c.number), [1, 2, 3, 4]);
      assert.equal(new Set(q.choices.map((c) => c.content)).size, 4, 'distinct choices');
    }
    // Every answer is in the text: work them out independently of the server.
    correct = quiz.questions.map((q) => solve(q, APOLLO_11));
  });

  await step('submitQuizAnswers grades: 2 of 4 right is 50 %, with feedback', async () => {
    const wrong = correct[1] === 1 ? 2 : 1; // a wrong answer to question 2; question 4 left out
    const answers = [
      { questionNumber: 1, choiceNumber: correct[0] },
      { questionNumber: 2, choiceNumber: wrong },
      { questionNumber: 3, choiceNumber: correct[2] },
    ];
    ({ submitQuizAnswers: result } = ok(
      await device.run('SubmitQuizAnswers', { quizId: quiz.id, answers }),
      'submitQuizAnswers',
    ));
    assert.equal(result.quizId, quiz.id);
    assert.equal(result.quizTitle, 'Apollo 11');
    assert.equal(result.correctCount, 2);
    assert.equal(result.totalQuestions, 4);
    assert.equal(result.score, 50);
    assert.deepEqual(result.details.map((d) => d.correctChoice), correct, 'the server agrees on the answers');
    assert.deepEqual(result.details.map((d) => d.isCorrect), [true, false, true, false]);
    assert.deepEqual(result.details.map((d) => d.selectedChoice), [correct[0], wrong, correct[2], null]);
    const content = (q, n) => quiz.questions[q].choices[n - 1].content;
    assert.equal(result.details[1].selectedContent, content(1, wrong));
    assert.equal(result.details[1].correctContent, content(1, correct[1]));
    assert.equal(result.details[3].correctContent, content(3, correct[3]));

    const { summary, items } = result.feedback;
    assert.match(summary, /2 of 4/);
    assert.match(summary, /50\s?%/);
    assert.deepEqual(items.map((i) => i.questionNumber), [2, 4]);
    assert.ok(items[0].feedback.includes(content(1, wrong)), items[0].feedback);
    assert.ok(items[0].feedback.includes(content(1, correct[1])), items[0].feedback);
    assert.match(items[1].feedback, /not answered/i);
    assert.ok(items[1].feedback.includes(content(3, correct[3])), items[1].feedback);
  });

  await step('quizResult reads the same graded result back', async () => {
    const { quizResult } = ok(await device.run('QuizResult', { id: result.id }), 'quizResult');
    assert.deepEqual(quizResult, result);
  });

  await step('quizzes lists the one quiz', async () => {
    const { quizzes } = ok(await device.run('Quizzes', { first: 10 }), 'quizzes');
    assert.equal(quizzes.totalCount, 1);
    assert.equal(quizzes.pageInfo.hasNextPage, false);
    assert.deepEqual(
      quizzes.edges.map((e) => ({ ...e.node })),
      [{ id: quiz.id, title: 'Apollo 11', questionCount: 4 }],
    );
  });

  await step('an expired access token: TOKEN_EXPIRED → refreshToken → retry, transparently', async () => {
    await waitForExpiry(device, server);
    const mark = device.http.requests.length;
    const before = (await cookie('access'))?.value;
    const { sessions } = ok(await device.run('Sessions'), 'sessions after expiry');
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].current, true);
    assert.ok(sessions[0].lastRefreshedAt, 'the session was refreshed');
    assert.deepEqual(wire(device, mark), ['Sessions:TOKEN_EXPIRED', 'RefreshAccessToken:ok', 'Sessions:ok']);
    assert.notEqual((await cookie('access'))?.value, before, 'a new access cookie');
  });

  await step('requests that expire together share one refresh', async () => {
    await waitForExpiry(device, server);
    const mark = device.http.requests.length;
    const [me, sessions, quizzes] = await Promise.all([
      device.run('Me'),
      device.run('Sessions'),
      device.run('Quizzes', { first: 10 }),
    ]);
    assert.equal(ok(me, 'me').me.username, username);
    assert.equal(ok(sessions, 'sessions').sessions.length, 1);
    assert.equal(ok(quizzes, 'quizzes').quizzes.totalCount, 1);
    const sent = wire(device, mark);
    assert.deepEqual(sent.filter((s) => s.startsWith('RefreshAccessToken')), ['RefreshAccessToken:ok'], sent.join(' '));
    assert.deepEqual(
      sent.filter((s) => !s.startsWith('RefreshAccessToken')).sort(),
      ['Me:TOKEN_EXPIRED', 'Me:ok', 'Quizzes:TOKEN_EXPIRED', 'Quizzes:ok', 'Sessions:TOKEN_EXPIRED', 'Sessions:ok'],
    );
  });

  await step('a request answered after another one refreshed is retried without a second refresh', async () => {
    await waitForExpiry(device, server);
    const mark = device.http.requests.length;
    // Both requests go out with the expired token; the Quizzes answer is held back until the
    // Me request has failed, refreshed and been retried.
    const release = device.http.hold('Quizzes');
    const quizzes = device.run('Quizzes', { first: 10 });
    assert.equal(ok(await device.run('Me'), 'me').me.username, username);
    release();
    assert.equal(ok(await quizzes, 'quizzes').quizzes.totalCount, 1);
    assert.deepEqual(wire(device, mark), [
      'Me:TOKEN_EXPIRED',
      'RefreshAccessToken:ok',
      'Me:ok',
      'Quizzes:TOKEN_EXPIRED',
      'Quizzes:ok',
    ]);
  });

  await step('logout clears the cookies; protected fields are then UNAUTHENTICATED', async () => {
    const { logout } = ok(await device.run('Logout'), 'logout');
    assert.equal(logout.message, 'Logged out.');
    assert.equal(await cookie('access'), undefined);
    assert.equal(await cookie('username'), undefined);
    const mark = device.http.requests.length;
    assert.deepEqual((await device.run('Sessions')).codes, ['UNAUTHENTICATED']);
    assert.equal(ok(await device.run('Me'), 'me').me, null);
    assert.deepEqual(wire(device, mark), ['Sessions:UNAUTHENTICATED', 'Me:ok'], 'no refresh attempted');
    assert.equal(device.sessionExpired.length, 0);
  });

  await step('a revoked session: the next operation fails with SESSION_EXPIRED and the app is told', async () => {
    // Two devices log in; the second logs the first out from its list of sessions.
    const [laptop, phone] = [newPlainDevice(), newPlainDevice()];
    for (const d of [laptop, phone]) {
      const { login } = ok(await d.run('Login', { username: email, password: PASSWORD }), 'login');
      assert.equal(login.user.username, username);
    }
    const { sessions } = ok(await phone.run('Sessions'), 'sessions');
    assert.equal(sessions.length, 2);
    const laptopSession = sessions.find((s) => !s.current);
    assert.deepEqual(ok(await phone.run('RevokeSession', { id: laptopSession.id }), 'revokeSession'), {
      revokeSession: true,
    });

    // The revocation bites at once: no waiting for the access token to expire, no refresh.
    const mark = laptop.http.requests.length;
    assert.deepEqual((await laptop.run('Sessions')).codes, ['SESSION_EXPIRED']);
    assert.deepEqual(wire(laptop, mark), ['Sessions:SESSION_EXPIRED']);
    assert.equal(laptop.sessionExpired.length, 1, 'onSessionExpired ran once');
    // Logging out of the ended session still clears the cookies.
    await laptop.run('Logout');
    assert.equal(await laptop.http.cookie(server.url, 'access'), undefined, 'the server cleared the cookie');

    // The phone's session is untouched.
    assert.equal(ok(await phone.run('Sessions'), 'sessions').sessions.length, 1);
  });
}
