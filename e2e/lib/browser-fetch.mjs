// A `fetch` that behaves like one browser tab towards the server: it keeps cookies in its own
// jar (tough-cookie + fetch-cookie), and records every GraphQL request it sends (operation name
// and the error codes of the response) so tests can check what a client did on the wire.

import makeFetchCookie from 'fetch-cookie';
import { CookieJar } from 'tough-cookie';

/**
 * @typedef {{ operationName: string | null, method: string, status: number, codes: string[] }} Exchange
 */

export function browserFetch() {
  const jar = new CookieJar();
  const cookieFetch = makeFetchCookie(fetch, jar);
  /** @type {Exchange[]} */
  const requests = [];
  /** Held responses: operation name → promise that lets the response through. */
  const holds = new Map();

  /** @type {typeof fetch} */
  const recordingFetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    let operationName = url.searchParams.get('operationName');
    if (typeof init.body === 'string') {
      try {
        operationName = JSON.parse(init.body).operationName ?? null;
      } catch {
        // not JSON: leave it unnamed
      }
    }
    const response = await cookieFetch(input, init);
    const hold = holds.get(operationName);
    if (hold) {
      holds.delete(operationName);
      await hold;
    }
    let codes = [];
    // A multipart subscription response streams for as long as the subscription runs.
    if (/^multipart\//i.test(response.headers.get('content-type') ?? '')) {
      requests.push({ operationName, method, status: response.status, codes });
      return response;
    }
    try {
      const body = await response.clone().json();
      codes = (body.errors ?? []).map((e) => e.extensions?.code ?? 'NO_CODE');
    } catch {
      codes = ['NOT_JSON'];
    }
    requests.push({ operationName, method, status: response.status, codes });
    return response;
  };

  return {
    fetch: recordingFetch,
    jar,
    requests,
    /** The value of a cookie the jar would send to `url`, or undefined. */
    async cookie(url, name) {
      const cookies = await jar.getCookies(url);
      return cookies.find((c) => c.key === name);
    },
    /**
     * Holds back the response to the next request named `operationName` (the request itself
     * goes out at once) until the returned function is called.
     */
    hold(operationName) {
      let release = () => {};
      holds.set(operationName, new Promise((resolve) => (release = resolve)));
      return () => release();
    },
    /** Requests sent since `mark` (a length of `requests` taken earlier). */
    since(mark) {
      return requests.slice(mark);
    },
  };
}
