// Token refresh for Apollo Client 4, as a Quiz LLM frontend should do it.
//
// The browser holds only a short-lived access token, in the HttpOnly `access` cookie. When it
// has expired, the server answers any operation that needs a login with the error code
// TOKEN_EXPIRED. This link then
//   1. calls the `refreshToken` mutation once (the cookie, even expired, names the session;
//      the response sets a fresh `access` cookie),
//   2. forwards the failed operation again, once, and delivers that result instead.
// Operations that fail while a refresh is running wait for that refresh, and operations that
// were sent before the last refresh completed are just sent again: the server rotates the
// session's refresh token on every refresh, so each expiry costs exactly one refresh.
// When the refresh itself fails (SESSION_EXPIRED: logged out, revoked, idle too long), the
// operation fails with that error and `onSessionExpired` runs: send the user to log in.
//
// Usage:
//   const client = new ApolloClient({
//     cache: new InMemoryCache(),
//     link: ApolloLink.from([
//       createRefreshLink({ onSessionExpired: () => goToLogin() }),
//       new HttpLink({ uri: '/graphql', credentials: 'include' }),
//     ]),
//   });
//
// A mutation is retried too: the server refuses an expired token before running the field, so
// it did not run. (Keep to one root field per mutation, or a retry re-runs the fields that
// needed no login.)

import { ApolloLink, gql } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { ErrorLink } from '@apollo/client/link/error';
import { from, switchMap } from 'rxjs';

/** The refresh, in its own operation; the access token arrives as a cookie. */
const REFRESH_ACCESS_TOKEN = gql`
  mutation RefreshAccessToken {
    refreshToken {
      accessTokenExpiresAt
    }
  }
`;

/**
 * @param {unknown} error
 * @param {string} code
 */
export const hasErrorCode = (error, code) =>
  CombinedGraphQLErrors.is(error) && error.errors.some((e) => e.extensions?.code === code);

/**
 * @param {{ onSessionExpired?: (error: unknown) => void }} [options]
 * @returns {import('@apollo/client').ApolloLink}
 */
export function createRefreshLink({ onSessionExpired } = {}) {
  /** Counts successful refreshes: which access token an operation was sent with. */
  let generation = 0;
  /** @type {Promise<unknown> | null} */
  let refreshing = null;

  /**
   * Refreshes, unless a refresh completed after `sentWith`; shares a refresh in flight.
   * @param {import('@apollo/client').ApolloClient} client
   * @param {number} sentWith
   */
  const refreshAfter = async (client, sentWith) => {
    if (sentWith < generation) return;
    // The refresh goes through the client's own link chain (and so through this link): it
    // never answers TOKEN_EXPIRED, so it cannot loop.
    refreshing ??= client
      .mutate({ mutation: REFRESH_ACCESS_TOKEN, fetchPolicy: 'no-cache', context: { isRefresh: true } })
      .then(
        () => {
          generation += 1;
        },
        (error) => {
          if (hasErrorCode(error, 'SESSION_EXPIRED')) onSessionExpired?.(error);
          throw error;
        },
      )
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };

  /** Notes which access token generation each operation goes out with. */
  const stamp = new ApolloLink((operation, forward) => {
    operation.setContext({ tokenGeneration: generation });
    return forward(operation);
  });

  const retry = new ErrorLink(({ error, operation, forward }) => {
    const context = operation.getContext();
    // A session ended elsewhere (logout, revocation, password change) is refused at once by any
    // operation: nothing to refresh, the user logs in again. (The refresh's own failure is
    // reported where it is awaited, so it is not reported twice.)
    if (hasErrorCode(error, 'SESSION_EXPIRED') && !context.isRefresh) {
      onSessionExpired?.(error);
      return;
    }
    if (!hasErrorCode(error, 'TOKEN_EXPIRED') || context.retriedAfterRefresh) {
      return; // not ours (or already retried once): let the error through
    }
    return from(refreshAfter(operation.client, context.tokenGeneration ?? 0)).pipe(
      switchMap(() => {
        operation.setContext({ retriedAfterRefresh: true });
        return forward(operation);
      }),
    );
  });

  return ApolloLink.from([stamp, retry]);
}
