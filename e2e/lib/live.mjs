// The live-generation scenario every client runs (urql over graphql-ws, Apollo Client over
// graphql-ws and over multipart HTTP): start a job, watch it to SUCCEEDED through the
// quizGeneration subscription, and hear the new quiz on quizEvents. Each test file supplies the
// client behind a small adapter.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { APOLLO_11, stepper } from './scenario.mjs';
import { PASSWORD } from './server.mjs';

/**
 * @typedef {{ data?: any, errors?: readonly any[] }} Result
 * @typedef {object} LiveClient
 * @property {(operation: string, variables?: object) => Promise<any>} run  a query or mutation; its data
 * @property {(operation: string, variables?: object) => { results: Result[], done: Promise<void>, stop: () => void }} subscribe
 *   starts a subscription; `results` fills as they arrive, `done` settles when it completes
 */

/** A `ws` WebSocket that behaves like a browser page of `origin`: sends its cookies and Origin. */
export function browserWebSocket(http, origin) {
  return class BrowserWebSocket extends WebSocket {
    constructor(url, protocols) {
      const cookie = http.jar.getCookieStringSync(String(url).replace(/^ws/, 'http'));
      super(url, protocols, { headers: { cookie }, origin });
    }
  };
}

/** Signs up and confirms through the e-mail link with a raw request; returns the access token. */
export async function newAccount(server, http, username) {
  const gql = async (query, variables) => {
    const res = await http.fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const body = await res.json();
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data;
  };
  const email = `${username}@example.com`;
  await gql('mutation($i: SignUpInput!) { signUp(input: $i) { message } }', {
    i: { username, email, password: PASSWORD },
  });
  const link = await server.verificationLink(email);
  const { verifyEmail } = await gql(
    'mutation($u: String!, $t: String!) { verifyEmail(uid: $u, token: $t) { accessToken } }',
    { u: link.uid, t: link.token },
  );
  return verifyEmail.accessToken;
}

/** Waits (up to 20 s) until `results` holds one that `found` accepts. */
async function arrives(results, found, what) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const hit = results.find(found);
    if (hit) return hit;
    assert.ok(Date.now() < deadline, `${what} did not arrive; got ${JSON.stringify(results)}`);
    await sleep(25);
  }
}

/**
 * @param {import('node:test').TestContext} t
 * @param {{ client: LiveClient }} options
 */
export async function liveGenerationScenario(t, { client }) {
  const step = stepper(t);
  let events;
  let job;
  let states;

  await step('quizEvents is listening', async () => {
    events = client.subscribe('QuizEvents');
    // A subscription has no acknowledgement of its own; give it a moment to reach the server.
    await sleep(500);
    assert.deepEqual(events.results.filter((r) => r.errors), []);
  });

  await step('startQuizGeneration answers at once with a queued job', async () => {
    const data = await client.run('StartQuizGeneration', {
      input: { topic: 'Apollo 11', sourceText: APOLLO_11, questionCount: 3, choiceCount: 3 },
    });
    job = data.startQuizGeneration;
    assert.equal(job.status, 'QUEUED');
    assert.equal(job.progress, 0);
    assert.equal(job.questionCount, 3);
    assert.equal(job.quiz, null);
  });

  await step('quizGeneration sends the job until it SUCCEEDED, then completes', async () => {
    const watch = client.subscribe('WatchQuizGeneration', { jobId: job.id });
    await watch.done;
    assert.deepEqual(watch.results.filter((r) => r.errors), []);
    states = watch.results.map((r) => r.data.quizGeneration);
    assert.ok(states.length >= 1);
    for (let i = 1; i < states.length; i++) {
      assert.ok(states[i].progress >= states[i - 1].progress, `progress went back: ${JSON.stringify(states)}`);
    }
    const last = states.at(-1);
    assert.equal(last.status, 'SUCCEEDED');
    assert.equal(last.progress, 1);
    assert.equal(last.questionsReady, 3);
    assert.equal(last.quiz.questionCount, 3);
    const { quizGenerationJob } = await client.run('QuizGenerationJob', { id: job.id });
    assert.equal(quizGenerationJob.status, 'SUCCEEDED');
  });

  await step('quizEvents reports the new quiz', async () => {
    const quizId = states.at(-1).quiz.id;
    const created = await arrives(
      events.results,
      (r) => r.data?.quizEvents?.quizId === quizId,
      'the QUIZ_CREATED event',
    );
    assert.equal(created.data.quizEvents.kind, 'QUIZ_CREATED');
    assert.equal(created.data.quizEvents.resultId, null);
    events.stop();
  });
}
