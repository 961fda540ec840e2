// One browser (its own cookie jar) with an urql or an Apollo client, as the tests drive them:
// `run(name, variables)` sends an operation from e2e/operations and returns its data and error
// codes. With `persisted`, the client names each operation by its trusted document's hash
// (urql's persistedExchange, Apollo's PersistedQueryLink) instead of sending its text.

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { Client, cacheExchange, fetchExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { createRefreshLink } from '../src/apollo-refresh-link.mjs';
import { refreshExchange } from '../src/urql-refresh-exchange.mjs';
import { browserFetch } from './browser-fetch.mjs';
import { loadOperations } from './operations.mjs';

const operations = loadOperations();

/** @param {string} name */
function operation(name) {
  const document = operations[name];
  if (!document) throw new Error(`no operation ${name} in e2e/operations`);
  const isMutation = document.definitions[0].operation === 'mutation';
  return { document, isMutation };
}

/**
 * @typedef {(document: import('graphql').DocumentNode) => string} HashOf
 * @param {{ url: string, persisted?: HashOf }} options
 */
export function urqlDevice({ url, persisted }) {
  const http = browserFetch();
  /** @type {unknown[]} */
  const sessionExpired = [];
  const client = new Client({
    url,
    fetch: http.fetch,
    fetchOptions: { credentials: 'include' },
    exchanges: [
      cacheExchange,
      refreshExchange({ onSessionExpired: (error) => sessionExpired.push(error) }),
      ...(persisted
        ? [
            persistedExchange({
              enforcePersistedQueries: true,
              enableForMutation: true,
              preferGetForPersistedQueries: false,
              generateHash: async (_query, document) => persisted(document),
            }),
          ]
        : []),
      fetchExchange,
    ],
  });
  return {
    http,
    sessionExpired,
    documentIdOf: persisted && ((/** @type {string} */ name) => persisted(operation(name).document)),
    /** @param {string} name @param {object} [variables] */
    async run(name, variables = {}) {
      const { document, isMutation } = operation(name);
      const result = isMutation
        ? await client.mutation(document, variables).toPromise()
        : await client.query(document, variables, { requestPolicy: 'network-only' }).toPromise();
      if (result.error?.networkError) throw result.error.networkError;
      const errors = result.error?.graphQLErrors ?? [];
      const codes = errors.map((e) => String(e.extensions?.code));
      return { data: result.data, codes, extensions: errors.map((e) => e.extensions ?? {}) };
    },
  };
}

/** @param {{ url: string, persisted?: HashOf }} options */
export function apolloDevice({ url, persisted }) {
  const http = browserFetch();
  /** @type {unknown[]} */
  const sessionExpired = [];
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([
      createRefreshLink({ onSessionExpired: (error) => sessionExpired.push(error) }),
      ...(persisted ? [new PersistedQueryLink({ generateHash: (document) => persisted(document) })] : []),
      new HttpLink({ uri: url, credentials: 'include', fetch: http.fetch }),
    ]),
  });
  return {
    http,
    sessionExpired,
    documentIdOf: persisted && ((/** @type {string} */ name) => persisted(operation(name).document)),
    /** @param {string} name @param {object} [variables] */
    async run(name, variables = {}) {
      const { document, isMutation } = operation(name);
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
