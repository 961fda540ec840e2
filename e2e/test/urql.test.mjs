// urql (@urql/core) against the real server: cookies kept like a browser, and the refresh
// exchange from src/urql-refresh-exchange.mjs handling TOKEN_EXPIRED.

import { after, before, test } from 'node:test';
import { Client, cacheExchange, fetchExchange } from '@urql/core';
import { refreshExchange } from '../src/urql-refresh-exchange.mjs';
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

/** One browser with an urql client. */
function newDevice() {
  const http = browserFetch();
  /** @type {unknown[]} */
  const sessionExpired = [];
  const client = new Client({
    url: `${server.url}/graphql`,
    fetch: http.fetch,
    fetchOptions: { credentials: 'include' },
    exchanges: [
      cacheExchange,
      refreshExchange({ onSessionExpired: (error) => sessionExpired.push(error) }),
      fetchExchange,
    ],
  });
  return {
    http,
    sessionExpired,
    /** @param {string} name @param {object} [variables] */
    async run(name, variables = {}) {
      const document = operations[name];
      if (!document) throw new Error(`no operation ${name} in e2e/operations`);
      const isMutation = document.definitions[0].operation === 'mutation';
      const result = isMutation
        ? await client.mutation(document, variables).toPromise()
        : await client.query(document, variables, { requestPolicy: 'network-only' }).toPromise();
      if (result.error?.networkError) throw result.error.networkError;
      const codes = (result.error?.graphQLErrors ?? []).map((e) => String(e.extensions?.code));
      return { data: result.data, codes };
    },
  };
}

test('urql: sign up, verify, quiz, token refresh, logout', async (t) => {
  await accountAndQuizScenario(t, { server, newDevice, username: 'urql_user' });
});
