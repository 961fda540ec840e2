// The GraphQL-over-HTTP spec, as graphql-http's server audit checks it: every MUST and every
// SHOULD must pass (MAYs are optional and only listed). The audit speaks both media types,
// application/json and application/graphql-response+json, over GET and POST.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { auditServer } from 'graphql-http';
import { TestServer } from '../lib/server.mjs';

let server;

before(async () => {
  server = await TestServer.start();
});

after(async () => {
  await server?.stop();
});

test('graphql-http server audit: 0 MUST and 0 SHOULD failures', { timeout: 60_000 }, async (t) => {
  const results = await auditServer({ url: `${server.url}/graphql` });
  const failed = (status) => results.filter((r) => r.status === status);
  const describe = (r) => `${r.id} ${r.name}: ${r.reason}`;
  for (const r of failed('notice')) t.diagnostic(`optional, not done: ${describe(r)}`);
  t.diagnostic(
    `${results.length} audits: ${results.filter((r) => r.status === 'ok').length} ok, ` +
      `${failed('error').length} MUST failed, ${failed('warn').length} SHOULD failed, ` +
      `${failed('notice').length} MAY not done`,
  );
  assert.deepEqual(failed('error').map(describe), [], 'MUST failures');
  assert.deepEqual(failed('warn').map(describe), [], 'SHOULD failures');
});
