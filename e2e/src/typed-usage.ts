// How a TypeScript frontend uses the documents GraphQL Code Generator makes from
// operations/*.graphql: variables and results are typed from ../schema.graphql. `tsc --noEmit`
// checks this file (e2e/run.sh); it is not run. The `@ts-expect-error` lines prove the types
// bite: if a document ever came out untyped (`any`), they would fail the check.

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { Client, cacheExchange, fetchExchange } from '@urql/core';
import { createRefreshLink } from './apollo-refresh-link.mjs';
import {
  GenerateQuizDocument,
  MeDocument,
  QuizResultDocument,
  SubmitQuizAnswersDocument,
  type AnswerInput,
  type QuizResultFieldsFragment,
} from './gql/graphql';
import { refreshExchange } from './urql-refresh-exchange.mjs';

const goToLogin = (): void => {
  // a real app navigates to its login page here
};

export const urql = new Client({
  url: '/graphql',
  fetchOptions: { credentials: 'include' },
  exchanges: [cacheExchange, refreshExchange({ onSessionExpired: goToLogin }), fetchExchange],
});

export const apollo = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.from([
    createRefreshLink({ onSessionExpired: goToLogin }),
    new HttpLink({ uri: '/graphql', credentials: 'include' }),
  ]),
});

/** Greets the logged-in user (urql). */
export async function greeting(): Promise<string> {
  const { data } = await urql.query(MeDocument, {}).toPromise();
  const name: string | undefined = data?.me?.username;
  // @ts-expect-error -- `nickname` is neither selected in Me nor in the schema
  void data?.me?.nickname;
  return name ? `Hello, ${name}!` : 'Please log in.';
}

/** Generates a quiz, answers every question with its first choice, returns the score (urql). */
export async function quickQuiz(sourceText: string): Promise<number | undefined> {
  const generated = await urql
    .mutation(GenerateQuizDocument, {
      input: { topic: 'Apollo 11', sourceText, questionCount: 3, difficulty: 'EASY' },
    })
    .toPromise();
  const quiz = generated.data?.generateQuiz;
  if (!quiz) return undefined;
  const answers: AnswerInput[] = quiz.questions.map((q) => ({
    questionNumber: q.number,
    choiceNumber: q.choices[0].number,
  }));
  const submitted = await urql.mutation(SubmitQuizAnswersDocument, { quizId: quiz.id, answers }).toPromise();
  const score: number | undefined = submitted.data?.submitQuizAnswers.score;

  // @ts-expect-error -- 'VERY_HARD' is not a Difficulty
  void urql.mutation(GenerateQuizDocument, { input: { topic: 'x', difficulty: 'VERY_HARD' } });
  // @ts-expect-error -- quizId is required
  void urql.mutation(SubmitQuizAnswersDocument, { answers });
  return score;
}

/** Reads a result's feedback lines (Apollo Client). */
export async function feedbackLines(id: string): Promise<string[]> {
  const { data } = await apollo.query({ query: QuizResultDocument, variables: { id } });
  const result: QuizResultFieldsFragment | null | undefined = data?.quizResult;
  if (!result) return [];
  // @ts-expect-error -- `id` is a required variable
  void apollo.query({ query: QuizResultDocument, variables: {} });
  return [
    result.feedback.summary,
    ...result.feedback.items.map((item) => `Q${item.questionNumber}: ${item.feedback}`),
  ];
}
