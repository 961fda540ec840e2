// Token refresh for urql (@urql/core 6), as a Quiz LLM frontend should do it.
//
// The browser holds only a short-lived access token, in the HttpOnly `access` cookie. When it
// has expired, the server answers any operation that needs a login with the error code
// TOKEN_EXPIRED. This exchange then
//   1. calls the `refreshToken` mutation once (the cookie, even expired, names the session;
//      the response sets a fresh `access` cookie),
//   2. sends the failed operation again, once, and delivers that result instead.
// Operations that fail while a refresh is running wait for that refresh, and operations that
// were sent before the last refresh completed are just sent again: the server rotates the
// session's refresh token on every refresh, so each expiry costs exactly one refresh.
// When the refresh itself fails (SESSION_EXPIRED: logged out, revoked, idle too long), the
// operation's result carries that error and `onSessionExpired` runs: send the user to log in.
//
// Usage:
//   const client = new Client({
//     url: '/graphql',
//     fetchOptions: { credentials: 'include' },
//     exchanges: [cacheExchange, refreshExchange({ onSessionExpired: () => goToLogin() }), fetchExchange],
//   });
//
// Place it right before fetchExchange, so that a retried operation skips the cache.
// A mutation is retried too: the server refuses an expired token before running the field, so
// it did not run. (Keep to one root field per mutation, or a retry re-runs the fields that
// needed no login.)

import { gql, makeOperation } from '@urql/core';
import { filter, makeSubject, map, merge, pipe, share } from 'wonka';

/** The refresh, in its own operation; the access token arrives as a cookie. */
const REFRESH_ACCESS_TOKEN = gql`
  mutation RefreshAccessToken {
    refreshToken {
      accessTokenExpiresAt
    }
  }
`;

/**
 * @param {import('@urql/core').CombinedError | undefined} error
 * @param {string} code
 */
export const hasErrorCode = (error, code) =>
  !!error?.graphQLErrors.some((e) => e.extensions?.code === code);

/**
 * @param {{ onSessionExpired?: (error: import('@urql/core').CombinedError) => void }} [options]
 * @returns {import('@urql/core').Exchange}
 */
export function refreshExchange({ onSessionExpired } = {}) {
  return ({ client, forward }) => (operations$) => {
    /** Counts successful refreshes: which access token an operation was sent with. */
    let generation = 0;
    /** @type {Promise<import('@urql/core').OperationResult> | null} */
    let refreshing = null;
    /** Keys of operations waiting for a refresh; a teardown (unsubscribe) removes its key. */
    const waiting = new Set();
    const retries = makeSubject(); // operations to send again after a successful refresh
    const failures = makeSubject(); // results to deliver when the refresh failed

    /**
     * Refreshes, unless a refresh completed after `sentWith`; shares a refresh in flight.
     * @param {number} sentWith
     * @returns {Promise<{ error?: import('@urql/core').CombinedError }>}
     */
    const refreshAfter = async (sentWith) => {
      if (sentWith < generation) return { error: undefined };
      refreshing ??= client
        .mutation(REFRESH_ACCESS_TOKEN, {}, { requestPolicy: 'network-only', isRefresh: true })
        .toPromise()
        .then((result) => {
          if (!result.error) generation += 1;
          return result;
        })
        .finally(() => {
          refreshing = null;
        });
      return refreshing;
    };

    /** @param {import('@urql/core').OperationResult} result */
    const refreshThenRetry = async (result) => {
      const operation = result.operation;
      waiting.add(operation.key);
      const refreshed = await refreshAfter(operation.context.tokenGeneration ?? 0);
      if (!waiting.delete(operation.key)) return; // torn down meanwhile: nobody wants it
      if (refreshed.error) {
        if (hasErrorCode(refreshed.error, 'SESSION_EXPIRED')) onSessionExpired?.(refreshed.error);
        failures.next({ ...result, data: undefined, error: refreshed.error });
      } else {
        retries.next(
          makeOperation(operation.kind, operation, { ...operation.context, retriedAfterRefresh: true }),
        );
      }
    };

    const results$ = pipe(
      merge([
        pipe(
          operations$,
          map((op) => {
            if (op.kind === 'teardown') {
              waiting.delete(op.key);
              return op;
            }
            return makeOperation(op.kind, op, { ...op.context, tokenGeneration: generation });
          }),
        ),
        retries.source,
      ]),
      forward,
      share,
      filter((result) => {
        // A session ended elsewhere is refused at once by any operation: the user logs in again.
        // (The refresh's own failure is reported by refreshThenRetry, not here as well.)
        if (result.error && hasErrorCode(result.error, 'SESSION_EXPIRED') && !result.operation.context.isRefresh) {
          onSessionExpired?.(result.error);
        }
        const expired =
          hasErrorCode(result.error, 'TOKEN_EXPIRED') &&
          !result.operation.context.retriedAfterRefresh; // retry once, never loop
        if (expired) refreshThenRetry(result);
        return !expired;
      }),
    );
    return merge([results$, failures.source]);
  };
}
