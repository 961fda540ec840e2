// Apollo Client against the real server: cookies kept like a browser, and the refresh link
// from src/apollo-refresh-link.mjs handling TOKEN_EXPIRED.

import { after, before, test } from 'node:test';
import { apolloDevice } from '../lib/clients.mjs';
import { accountAndQuizScenario } from '../lib/scenario.mjs';
import { TestServer } from '../lib/server.mjs';

let server;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

test('Apollo Client: sign up, verify, quiz, token refresh, logout', async (t) => {
  const newDevice = () => apolloDevice({ url: `${server.url}/graphql` });
  await accountAndQuizScenario(t, { server, newDevice, username: 'apollo_user' });
});
