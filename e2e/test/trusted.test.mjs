// Trusted documents: GraphQL Code Generator's client preset writes the manifest of
// e2e/operations (src/gql-persisted/persisted-documents.json), the server runs with
// TRUSTED_DOCUMENTS=enforce and that manifest, and urql and Apollo Client go through the whole
// account and quiz scenario naming each operation by its hash, never sending its text.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getOperationAST, parse } from 'graphql';
import { apolloDevice, urqlDevice } from '../lib/clients.mjs';
import { accountAndQuizScenario } from '../lib/scenario.mjs';
import { TestServer } from '../lib/server.mjs';

const MANIFEST = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'gql-persisted', 'persisted-documents.json');

/** Operation name → its hash in the manifest. */
const hashes = new Map(
  Object.entries(JSON.parse(readFileSync(MANIFEST, 'utf8'))).map(([hash, text]) => {
    const name = getOperationAST(parse(text))?.name?.value;
    if (!name) throw new Error(`an unnamed document in ${MANIFEST}`);
    return [name, hash.replace(/^sha256:/, '')];
  }),
);

/** The clients' caches rewrite documents (adding __typename), so look the hash up by name. */
const hashOf = (/** @type {import('graphql').DocumentNode} */ document) => {
  const name = getOperationAST(document)?.name?.value;
  const hash = name && hashes.get(name);
  if (!hash) throw new Error(`operation ${name} is not in the manifest`);
  return hash;
};

let server;

before(async () => {
  server = await TestServer.start({ env: { TRUSTED_DOCUMENTS: 'enforce', TRUSTED_DOCUMENTS_FILE: MANIFEST } });
});
after(async () => {
  await server?.stop();
});

test('enforce: free text is refused', async () => {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.errors[0].extensions.code, 'OPERATION_NOT_TRUSTED');
});

test('urql through trusted documents: the whole scenario', async (t) => {
  const devices = [];
  const newDevice = () => {
    const device = urqlDevice({ url: `${server.url}/graphql`, persisted: hashOf });
    devices.push(device);
    return device;
  };
  await accountAndQuizScenario(t, { server, newDevice, username: 'urql_trusted' });
  const codes = devices.flatMap((d) => d.http.requests.flatMap((r) => r.codes));
  assert.ok(!codes.includes('OPERATION_NOT_TRUSTED') && !codes.includes('PERSISTED_QUERY_NOT_FOUND'), codes.join());
});

test('Apollo Client through trusted documents: the whole scenario', async (t) => {
  const devices = [];
  const newDevice = () => {
    const device = apolloDevice({ url: `${server.url}/graphql`, persisted: hashOf });
    devices.push(device);
    return device;
  };
  await accountAndQuizScenario(t, { server, newDevice, username: 'apollo_trusted' });
  const codes = devices.flatMap((d) => d.http.requests.flatMap((r) => r.codes));
  assert.ok(!codes.includes('OPERATION_NOT_TRUSTED') && !codes.includes('PERSISTED_QUERY_NOT_FOUND'), codes.join());
});
