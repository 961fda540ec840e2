// GraphQL Code Generator (client preset) against the schema and the running server: the
// suite's operations must validate, a stale operation must fail the generator (and so
// e2e/run.sh, which runs it with the same config), and the server's introspection must agree
// with ../schema.graphql.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
import { OPERATIONS_DIR } from '../lib/operations.mjs';
import { TestServer } from '../lib/server.mjs';

const E2E = dirname(dirname(fileURLToPath(import.meta.url)));
const SCHEMA_FILE = join(E2E, '..', 'schema.graphql');
const CODEGEN = join(E2E, 'node_modules', '.bin', 'graphql-codegen');

let tmp;
let server;

before(async () => {
  await mkdir(join(E2E, '.tmp'), { recursive: true });
  tmp = await mkdtemp(join(E2E, '.tmp', 'codegen-'));
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/**
 * Runs graphql-codegen (from e2e/, so it finds the client preset) with the same settings as
 * e2e/codegen.yml, for the given schema pointer and documents folder.
 * @returns {Promise<{ code: number, output: string, outDir: string }>}
 */
async function codegen(name, schema, documentsDir) {
  const outDir = join(tmp, `${name}-out`);
  const config = join(tmp, `${name}.yml`);
  await writeFile(
    config,
    [
      `schema: ${JSON.stringify(schema)}`,
      `documents: [${JSON.stringify(join(documentsDir, '*.graphql'))}]`,
      'generates:',
      `  ${JSON.stringify(outDir + '/')}:`,
      '    preset: client',
      '    presetConfig: { fragmentMasking: false }',
      '    config: { scalars: { DateTime: string }, enumsAsTypes: true, useTypeImports: true }',
      '',
    ].join('\n'),
  );
  return new Promise((resolve) => {
    execFile(CODEGEN, ['--config', config], { cwd: E2E, env: { ...process.env, CI: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: stdout + stderr, outDir });
    });
  });
}

/** The operations folder with one extra file. */
async function operationsPlus(name, extra) {
  const dir = join(tmp, name);
  await cp(OPERATIONS_DIR, dir, { recursive: true });
  await writeFile(join(dir, 'zz-stale.graphql'), extra);
  return dir;
}

const readDir = async (dir) =>
  Object.fromEntries(
    await Promise.all((await readdir(dir)).sort().map(async (f) => [f, await readFile(join(dir, f), 'utf8')])),
  );

test('codegen: the suite operations are valid against schema.graphql', async () => {
  const { code, output, outDir } = await codegen('file', SCHEMA_FILE, OPERATIONS_DIR);
  assert.equal(code, 0, output);
  const types = await readFile(join(outDir, 'graphql.ts'), 'utf8');
  assert.match(types, /export type MeQuery = \{ me: \{ id: string, username: string, email: string, isActive: boolean \} \| null \};/);
  assert.match(types, /export const SubmitQuizAnswersDocument = /);
});

test('codegen: a field the schema does not have fails the run', async () => {
  const dir = await operationsPlus('stale-field', 'query StaleMe {\n  me {\n    id\n    nickname\n  }\n}\n');
  const { code, output, outDir } = await codegen('stale-field', SCHEMA_FILE, dir);
  assert.notEqual(code, 0, `codegen should fail:\n${output}`);
  assert.match(output, /Cannot query field "nickname" on type "User"/);
  await assert.rejects(readdir(outDir), 'nothing is generated');
});

test('codegen: a variable of the wrong type fails the run', async () => {
  const dir = await operationsPlus(
    'stale-variable',
    'mutation StaleQuiz($n: String!) {\n  generateQuiz(input: { topic: "x", questionCount: $n }) {\n    id\n  }\n}\n',
  );
  const { code, output } = await codegen('stale-variable', SCHEMA_FILE, dir);
  assert.notEqual(code, 0, `codegen should fail:\n${output}`);
  assert.match(output, /Variable "\$n" of type "String!" used in position expecting type "Int!"/);
});

test('codegen: introspecting the running server gives the same typed documents', async () => {
  const fromFile = await codegen('file2', SCHEMA_FILE, OPERATIONS_DIR);
  assert.equal(fromFile.code, 0, fromFile.output);
  const fromServer = await codegen('server', `${server.url}/graphql`, OPERATIONS_DIR);
  assert.equal(fromServer.code, 0, fromServer.output);
  assert.deepEqual(await readDir(fromServer.outDir), await readDir(fromFile.outDir));
});

test('schema.graphql is the schema the running server serves (introspection)', async () => {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true }) }),
  });
  const body = await res.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  const served = printSchema(lexicographicSortSchema(buildClientSchema(body.data)));
  const file = printSchema(lexicographicSortSchema(buildSchema(await readFile(SCHEMA_FILE, 'utf8'))));
  assert.equal(served, file);
});
