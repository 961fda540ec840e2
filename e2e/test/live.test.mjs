// Live generation from the real clients: urql's subscriptionExchange over graphql-ws (the
// access cookie on the upgrade, as a browser sends it), Apollo Client's GraphQLWsLink (the token
// in connection_init) and Apollo's plain HttpLink (multipart subscriptions over HTTP).

import { after, before, test } from 'node:test';
import { ApolloClient, InMemoryCache, HttpLink } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import { onEnd, pipe, subscribe } from 'wonka';
import { browserFetch } from '../lib/browser-fetch.mjs';
import { browserWebSocket, liveGenerationScenario, newAccount } from '../lib/live.mjs';
import { loadOperations } from '../lib/operations.mjs';
import { TestServer } from '../lib/server.mjs';

const operations = loadOperations();
let server;
/** @type {{ dispose(): unknown }[]} */
const sockets = [];

before(async () => {
  // The sockets' session is the subject here, not token expiry.
  server = await TestServer.start({ env: { ACCESS_TOKEN_TTL: '15m' } });
});
after(async () => {
  for (const s of sockets) await s.dispose();
  await server?.stop();
});

const wsUrl = () => `${server.url.replace(/^http/, 'ws')}/graphql`;

/** Collects a subscription's results from an Observable-like source. */
function collect(source) {
  const results = [];
  let stop = () => {};
  const done = new Promise((resolve, reject) => {
    const subscription = source.subscribe({
      next: (result) => results.push(result),
      error: reject,
      complete: resolve,
    });
    stop = () => subscription.unsubscribe();
  });
  return { results, done, stop };
}

test('urql: subscriptionExchange over graphql-ws watches a job to SUCCEEDED and hears quizEvents', async (t) => {
  const http = browserFetch();
  await newAccount(server, http, 'urql_live');
  const ws = createClient({ url: wsUrl(), webSocketImpl: browserWebSocket(http, server.url) });
  sockets.push(ws);
  const client = new Client({
    url: `${server.url}/graphql`,
    fetch: http.fetch,
    fetchOptions: { credentials: 'include' },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
  await liveGenerationScenario(t, {
    client: {
      async run(name, variables = {}) {
        const document = operations[name];
        const isMutation = document.definitions[0].operation === 'mutation';
        const result = isMutation
          ? await client.mutation(document, variables).toPromise()
          : await client.query(document, variables, { requestPolicy: 'network-only' }).toPromise();
        if (result.error) throw result.error;
        return result.data;
      },
      subscribe(name, variables = {}) {
        const results = [];
        let stop = () => {};
        const done = new Promise((resolve) => {
          ({ unsubscribe: stop } = pipe(
            client.subscription(operations[name], variables),
            onEnd(resolve),
            subscribe((result) => results.push({ data: result.data, errors: result.error?.graphQLErrors })),
          ));
        });
        return { results, done, stop };
      },
    },
  });
});

/** Apollo Client with `link`, as a LiveClient. */
function apollo(link) {
  const client = new ApolloClient({ cache: new InMemoryCache(), link });
  return {
    async run(name, variables = {}) {
      const document = operations[name];
      const isMutation = document.definitions[0].operation === 'mutation';
      const result = isMutation
        ? await client.mutate({ mutation: document, variables })
        : await client.query({ query: document, variables, fetchPolicy: 'network-only' });
      if (result.error) throw result.error;
      return result.data;
    },
    subscribe(name, variables = {}) {
      return collect(client.subscribe({ query: operations[name], variables }));
    },
  };
}

test('Apollo Client: GraphQLWsLink with the token in connection_init', async (t) => {
  const http = browserFetch();
  const token = await newAccount(server, http, 'apollo_ws');
  const ws = createClient({
    url: wsUrl(),
    webSocketImpl: browserWebSocket(http, server.url),
    connectionParams: { authorization: `Bearer ${token}` },
  });
  sockets.push(ws);
  // Queries and mutations go over the socket too: one link for everything.
  await liveGenerationScenario(t, { client: apollo(new GraphQLWsLink(ws)) });
});

test('Apollo Client: plain HttpLink, subscriptions as multipart HTTP responses', async (t) => {
  const http = browserFetch();
  await newAccount(server, http, 'apollo_http');
  const link = new HttpLink({ uri: `${server.url}/graphql`, credentials: 'include', fetch: http.fetch });
  await liveGenerationScenario(t, { client: apollo(link) });
});
