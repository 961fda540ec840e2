// Apollo Client against the real server: cookies kept like a browser, and the refresh link
// from src/apollo-refresh-link.mjs handling TOKEN_EXPIRED.

import { after, before, test } from 'node:test';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { createRefreshLink } from '../src/apollo-refresh-link.mjs';
import { browserFetch } from '../lib/browser-fetch.mjs';
import { loadOperations } from '../lib/operations.mjs';
import { accountAndQuizScenario } from '../lib/scenario.mjs';
import { TestServer } from '../lib/server.mjs';

const operations = loadOperations();
let server;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

/** One browser with an Apollo client. */
function newDevice() {
  const http = browserFetch();
  /** @type {unknown[]} */
  const sessionExpired = [];
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([
      createRefreshLink({ onSessionExpired: (error) => sessionExpired.push(error) }),
      new HttpLink({ uri: `${server.url}/graphql`, credentials: 'include', fetch: http.fetch }),
    ]),
  });
  return {
    http,
    sessionExpired,
    /** @param {string} name @param {object} [variables] */
    async run(name, variables = {}) {
      const document = operations[name];
      if (!document) throw new Error(`no operation ${name} in e2e/operations`);
      const isMutation = document.definitions[0].operation === 'mutation';
      try {
        const result = isMutation
          ? await client.mutate({ mutation: document, variables })
          : await client.query({ query: document, variables, fetchPolicy: 'network-only' });
        if (result.error) throw result.error;
        return { data: result.data, codes: [] };
      } catch (error) {
        if (!CombinedGraphQLErrors.is(error)) throw error;
        return { data: error.data, codes: error.errors.map((e) => String(e.extensions?.code)) };
      }
    },
  };
}

test('Apollo Client: sign up, verify, quiz, token refresh, logout', async (t) => {
  await accountAndQuizScenario(t, { server, newDevice, username: 'apollo_user' });
});
