// urql (@urql/core) against the real server: cookies kept like a browser, and the refresh
// exchange from src/urql-refresh-exchange.mjs handling TOKEN_EXPIRED.

import { after, before, test } from 'node:test';
import { urqlDevice } from '../lib/clients.mjs';
import { accountAndQuizScenario } from '../lib/scenario.mjs';
import { TestServer } from '../lib/server.mjs';

let server;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

test('urql: sign up, verify, quiz, token refresh, logout', async (t) => {
  const newDevice = () => urqlDevice({ url: `${server.url}/graphql` });
  await accountAndQuizScenario(t, { server, newDevice, username: 'urql_user' });
});
