// The learning loop through urql against the real server: take a quiz and miss two questions,
// come back the next day (the server restarted with its clock a day ahead by libfaketime, preloaded), find
// exactly those two in the review queue, answer one right and one wrong, and see their
// schedules move apart.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { urqlDevice } from '../lib/clients.mjs';
import { APOLLO_11, solve, stepper } from '../lib/scenario.mjs';
import { PASSWORD, TestServer } from '../lib/server.mjs';

let server;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

const ok = (outcome, what) => {
  assert.deepEqual(outcome.codes, [], `${what} failed: ${JSON.stringify(outcome)}`);
  return outcome.data;
};

test('urql: missed questions come back the next day and their schedules move apart', async (t) => {
  const step = stepper(t);
  const username = 'review_learner';
  const email = `${username}@example.com`;
  const device = urqlDevice({ url: `${server.url}/graphql` });
  let quiz, missed, cards;

  await step('sign up, confirm, take a quiz and miss two questions', async () => {
    ok(await device.run('SignUp', { input: { username, email, password: PASSWORD } }), 'signUp');
    const link = await server.verificationLink(email);
    ok(await device.run('VerifyEmail', { uid: link.uid, token: link.token }), 'verifyEmail');
    const input = { topic: 'Apollo 11', sourceText: APOLLO_11, questionCount: 4, choiceCount: 4 };
    ({ generateQuiz: quiz } = ok(await device.run('GenerateQuiz', { input }), 'generateQuiz'));
    const answers = quiz.questions.map((q, i) => {
      const right = solve(q, APOLLO_11);
      // Questions 3 and 4 are missed: the next choice round is wrong.
      const choiceNumber = i < 2 ? right : (right % q.choices.length) + 1;
      return { questionNumber: q.number, choiceNumber };
    });
    const { submitQuizAnswers } = ok(
      await device.run('SubmitQuizAnswers', { quizId: quiz.id, answers }),
      'submitQuizAnswers',
    );
    assert.equal(submitQuizAnswers.correctCount, 2);
    missed = [3, 4];
    const { reviewQueue } = ok(await device.run('ReviewQueue', {}), 'reviewQueue');
    assert.deepEqual(reviewQueue, [], 'nothing is due the same day');
  });

  await step('the next day, after logging in again, the two misses are due', async () => {
    await server.restart({ clockOffsetDays: 1 });
    ok(await device.run('Login', { username, password: PASSWORD }), 'login');
    ({ reviewQueue: cards } = ok(await device.run('ReviewQueue', {}), 'reviewQueue'));
    assert.deepEqual(cards.map((c) => c.question.number).sort(), missed);
    for (const card of cards) {
      assert.equal(card.quizTitle, quiz.title);
      assert.deepEqual([card.reps, card.lapses], [1, 0]);
      const asked = quiz.questions.find((q) => q.number === card.question.number);
      assert.equal(card.question.content, asked.content, 'the question as it was asked');
      assert.ok(card.question.choices.every((c) => !('correct' in c)), 'the answer stays hidden');
    }
  });

  await step('one answered right, one wrong: the right one comes back later', async () => {
    const [first, second] = cards;
    const right = solve(first.question, APOLLO_11);
    const wrong = (solve(second.question, APOLLO_11) % second.question.choices.length) + 1;
    const { submitReview: good } = ok(
      await device.run('SubmitReview', { cardId: first.id, answer: { choiceNumber: right } }),
      'submitReview (right)',
    );
    const { submitReview: again } = ok(
      await device.run('SubmitReview', { cardId: second.id, answer: { choiceNumber: wrong } }),
      'submitReview (wrong)',
    );
    assert.equal(good.correct, true);
    assert.equal(again.correct, false);
    assert.ok(again.source.excerpt.length > 0, 'the passage comes with the result');
    assert.ok(
      Date.parse(good.nextDue) > Date.parse(again.nextDue),
      `right ${good.nextDue} after wrong ${again.nextDue}`,
    );
    assert.equal(good.card.reps, 2);
    assert.equal(again.card.lapses, 1, 'a miss after learning is a lapse');
    const { learningStats } = ok(await device.run('LearningStats', {}), 'learningStats');
    assert.equal(learningStats.reviewedToday, 2);
    assert.equal(learningStats.dueNow, 0);
  });
});
