// A real OpenID Connect provider for the test suite: oidc-provider (npm, pinned in
// package-lock.json beside this file) with its built-in development interactions, a login form
// that takes any login as the subject (the password is not checked) and then a consent page.
// It listens on 127.0.0.1 only and is for tests only: it trusts every loopback redirect URI.
//
// Usage:
//   eval "$(scripts/oidc-test-provider.sh install)"     # exports OIDC_TEST_PROVIDER_DIR
//   OIDC_TEST_CLIENTS='[{"client_id":"app","client_secret":"s3cret"}]' \
//   OIDC_TEST_ACCOUNTS='{"alice":{"email":"alice@example.com","email_verified":true}}' \
//     node tests/support/oidc-provider/server.mjs
//
// Once it listens it prints one line of JSON to stdout, {"issuer":"http://127.0.0.1:<port>"},
// and nothing more there: every log line goes to stderr.
//
// Environment:
//   PORT                    the port on 127.0.0.1 (default 0: any free port)
//   OIDC_TEST_PROVIDER_DIR  the folder whose node_modules holds oidc-provider (default: this
//                           file's folder)
//   OIDC_TEST_CLIENTS       JSON array of clients, each {"client_id", "client_secret"}; any other
//                           client metadata given (snake_case) overrides the defaults below
//   OIDC_TEST_ACCOUNTS      JSON object {"<sub>": {"email", "email_verified", "name",
//                           "preferred_username"}}; a null or missing field is left out, and a
//                           sub that is not listed signs in all the same with only `sub`
//
// Clients use the authorization code grant (response type `code`) with PKCE S256 required,
// authenticate at the token endpoint with their secret in the Authorization header or in the
// form body (oidc-provider takes either for a client registered as `client_secret_basic`), and
// get ID tokens signed with RS256. The claims `email` and `email_verified` come with the scope
// `email`, `name` and `preferred_username` with `profile`, in the ID token as well as from
// userinfo. The signing keys (one RSA, one P-256) are made at start-up and served at
// /jwks; discovery is at /.well-known/openid-configuration.
//
// The process exits on SIGTERM or SIGINT, and when the process that started it goes away, so a
// test run that dies leaves no provider behind.

import { createServer } from 'node:http';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';

// oidc-provider prints its notices with console.info, which writes to stdout; stdout carries
// only the issuer line, so every console method writes to stderr.
const log = (...args) => process.stderr.write(`[oidc-test-provider] ${format(...args)}\n`);
console.log = log;
console.info = log;
console.debug = log;
console.warn = log;

function fail(message) {
  log(`ERROR: ${message}`);
  process.exit(2);
}

function jsonFromEnv(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') {
    return fallback;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(`${name} is not JSON: ${err.message}`);
  }
}

// --- oidc-provider, from the installed folder ------------------------------------------------

const here = dirname(fileURLToPath(import.meta.url));
const installed = process.env.OIDC_TEST_PROVIDER_DIR || here;
const requireFrom = createRequire(join(installed, 'package.json'));
let entry;
let version;
try {
  entry = requireFrom.resolve('oidc-provider');
  ({ version } = requireFrom('oidc-provider/package.json'));
} catch {
  fail(`oidc-provider is not installed in ${installed}: run scripts/oidc-test-provider.sh install `
    + 'and set OIDC_TEST_PROVIDER_DIR to the folder it prints');
}
if (!version.startsWith('9.')) {
  fail(`oidc-provider ${version} in ${installed} is not 9.x: run scripts/oidc-test-provider.sh install`);
}
const { default: Provider } = await import(pathToFileURL(entry).href);

// --- configuration from the environment ---------------------------------------------------------

const port = Number(process.env.PORT || 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`PORT=${process.env.PORT} is not a port number`);
}

const clientsGiven = jsonFromEnv('OIDC_TEST_CLIENTS', []);
if (!Array.isArray(clientsGiven)) {
  fail('OIDC_TEST_CLIENTS must be a JSON array of {"client_id", "client_secret"}');
}
const clients = clientsGiven.map((client, i) => {
  if (typeof client?.client_id !== 'string' || typeof client.client_secret !== 'string') {
    fail(`OIDC_TEST_CLIENTS[${i}] needs a string client_id and client_secret`);
  }
  return {
    // One registered URI is required; any loopback one is accepted as well (see below).
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    ...client,
  };
});

const accounts = jsonFromEnv('OIDC_TEST_ACCOUNTS', {});
if (accounts === null || typeof accounts !== 'object' || Array.isArray(accounts)) {
  fail('OIDC_TEST_ACCOUNTS must be a JSON object {"<sub>": {"email", ...}}');
}

function claimsOf(sub) {
  const claims = { sub };
  const account = Object.hasOwn(accounts, sub) ? accounts[sub] : {};
  for (const [name, value] of Object.entries(account ?? {})) {
    if (name !== 'sub' && value !== null && value !== undefined) {
      claims[name] = value;
    }
  }
  return claims;
}

// --- keys ---------------------------------------------------------------------------------------

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg };
}

const keys = [
  signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
  signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
];

// --- the provider -------------------------------------------------------------------------------

// The issuer names the port, so the socket listens before the provider is made.
const server = createServer();
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.listen(port, '127.0.0.1');
await once(server, 'listening');
const issuer = `http://127.0.0.1:${server.address().port}`;

// Cookies travel over plain http on 127.0.0.1, so none is marked Secure.
const cookieOptions = { httpOnly: true, sameSite: 'lax', secure: false };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys },
  findAccount: (ctx, sub) => ({ accountId: sub, claims: async () => claimsOf(sub) }),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  // The scope's claims go into the ID token too, not only to userinfo, as many providers do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    long: cookieOptions,
    short: cookieOptions,
  },
});

// Tests start the application on a random port after the provider, so no redirect URI can be
// registered ahead: any http URI on 127.0.0.1 or localhost with an explicit port is accepted,
// and nothing else that was not registered.
function loopbackRedirect(value) {
  const url = URL.parse(value);
  return url !== null
    && url.protocol === 'http:'
    && (url.hostname === '127.0.0.1' || url.hostname === 'localhost')
    && url.port !== ''
    && url.username === ''
    && url.password === ''
    && url.hash === '';
}
const registeredOnly = provider.Client.prototype.redirectUriAllowed;
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
  return loopbackRedirect(value) || registeredOnly.call(this, value);
};

provider.use(async (ctx, next) => {
  await next();
  log(`${ctx.method} ${ctx.path} ${ctx.status}`);
});
for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error',
  'jwks.error', 'discovery.error', 'end_session.error']) {
  provider.on(event, (ctx, err) => {
    log(`${event}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`);
  });
}

server.on('request', provider.callback());

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
log(`oidc-provider ${version} at ${issuer} with ${clients.length} client(s) and `
  + `${Object.keys(accounts).length} account(s)`);

function stop(signal) {
  log(`${signal}: stopping`);
  server.close();
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

// A test binary that panics or is killed does not always kill its children.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    stop('the parent process is gone');
  }
}, 500).unref();
