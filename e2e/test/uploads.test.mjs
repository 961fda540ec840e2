// Uploading study material with the real clients: urql (its fetch exchange sends files by the
// GraphQL multipart request spec) and Apollo Client (apollo-upload-client's UploadHttpLink),
// each with Apollo's preflight header, then a quiz from the upload. The files are made here: a
// PDF with a text layer on two pages, and Korean text in CP949.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApolloClient, InMemoryCache } from '@apollo/client';
import { Client, fetchExchange } from '@urql/core';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { parse } from 'graphql';
import iconv from 'iconv-lite';
import { readFileSync } from 'node:fs';
import { browserFetch } from '../lib/browser-fetch.mjs';
import { newAccount } from '../lib/live.mjs';
import { APOLLO_11 } from '../lib/scenario.mjs';
import { TestServer } from '../lib/server.mjs';

const KOREAN = readFileSync(new URL('../../tests/fixtures/korean.txt', import.meta.url), 'utf8');

const UPLOAD = parse(`mutation Upload($file: Upload!, $title: String) {
  uploadStudyMaterial(file: $file, title: $title) { id title mediaType pageCount charCount }
}`);
const GENERATE = parse(`mutation Generate($input: GenerateQuizInput!) {
  generateQuiz(input: $input) { id questions { number content } }
}`);
// A multipart request is refused without one of these (a form on another site cannot send it).
const PREFLIGHT = { 'apollo-require-preflight': 'true' };

/** A PDF showing each of `pages` in Courier, laid out by hand with a correct xref table. */
function pdf(pages) {
  const escape = (s) => s.replace(/[\\()]/g, (c) => `\\${c}`);
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', null, '<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>'];
  const kids = [];
  for (const text of pages) {
    const stream = `BT /F1 10 Tf 40 700 Td (${escape(text)}) Tj ET`;
    objects.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
    const contents = objects.length;
    objects.push(`<< /Type /Page /Parent 2 0 R /Contents ${contents} 0 R >>`);
    kids.push(`${objects.length} 0 R`);
  }
  objects[1] = `<< /Type /Pages /Kids [${kids.join(' ')}] /Count ${pages.length} /Resources << /Font << /F1 3 0 R >> >> /MediaBox [0 0 595 842] >>`;
  let out = '%PDF-1.4\n';
  const offsets = objects.map((body, i) => {
    const at = out.length;
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return at;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  out += offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('');
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

function apolloPages() {
  const sentences = APOLLO_11.match(/[^.]+\.\s*/g);
  const half = Math.floor(sentences.length / 2);
  return [sentences.slice(0, half).join(''), sentences.slice(half).join('')];
}

let server;
before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

function urqlClient(http) {
  const client = new Client({
    url: `${server.url}/graphql`,
    fetch: http.fetch,
    fetchOptions: { credentials: 'include', headers: PREFLIGHT },
    exchanges: [fetchExchange],
  });
  return async (document, variables) => {
    const result = await client.mutation(document, variables).toPromise();
    assert.equal(result.error, undefined, String(result.error));
    return result.data;
  };
}

function apolloClient(http) {
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: new UploadHttpLink({
      uri: `${server.url}/graphql`,
      credentials: 'include',
      headers: PREFLIGHT,
      fetch: http.fetch,
    }),
  });
  return async (mutation, variables) => {
    const result = await client.mutate({ mutation, variables });
    assert.equal(result.error, undefined, String(result.error));
    return result.data;
  };
}

for (const [name, makeClient] of [
  ['urql', urqlClient],
  ['Apollo Client', apolloClient],
]) {
  test(`${name}: upload a PDF and a CP949 text file, and generate a quiz from each`, async () => {
    const http = browserFetch();
    await newAccount(server, http, `uploader_${name.replace(/\W/g, '').toLowerCase()}`);
    const mutate = makeClient(http);

    const [one, two] = apolloPages();
    const file = new File([pdf([one, two])], 'Apollo notes.pdf', { type: 'application/pdf' });
    const { uploadStudyMaterial: material } = await mutate(UPLOAD, { file });
    assert.equal(material.title, 'Apollo notes');
    assert.equal(material.mediaType, 'application/pdf');
    assert.equal(material.pageCount, 2);
    assert.ok(material.charCount >= one.trim().length + two.trim().length, JSON.stringify(material));
    const { generateQuiz } = await mutate(GENERATE, {
      input: { topic: 'Apollo 11', materialId: material.id, questionCount: 3 },
    });
    assert.equal(generateQuiz.questions.length, 3);

    const cp949 = iconv.encode(KOREAN, 'cp949');
    assert.notDeepEqual([...cp949], [...Buffer.from(KOREAN)], 'the file is not UTF-8');
    const korean = new File([cp949], '한국사.txt', { type: 'text/plain' });
    const { uploadStudyMaterial: text } = await mutate(UPLOAD, { file: korean, title: '한국사 노트' });
    assert.equal(text.title, '한국사 노트');
    assert.equal(text.mediaType, 'text/plain');
    assert.equal(text.pageCount, null);
    assert.equal(text.charCount, [...KOREAN.replace(/\r\n/g, '\n')].length);
    const { generateQuiz: korean_quiz } = await mutate(GENERATE, {
      input: { topic: '한국사', materialId: text.id, questionCount: 2, language: 'ko' },
    });
    assert.equal(korean_quiz.questions.length, 2);
    // The questions come from the decoded text, so they are Hangul, not mojibake.
    assert.match(korean_quiz.questions.map((q) => q.content).join(' '), /[가-힣]/);
  });
}
