// Starts the real quiz-llm binary for a test file: its own temporary SQLite database and mail
// folder, a free port, a fixed JWT key and a 2-second access token (so tests can watch tokens
// expire). Reads the verification e-mails the file mailer writes.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const PASSWORD = 'correct horse battery staple';
export const ACCESS_TOKEN_TTL_MS = 2000;

/** The server binary: `QUIZ_LLM_BIN` (exported by e2e/run.sh), else the default target folder. */
export function serverBinary() {
  const candidates = [
    process.env.QUIZ_LLM_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'debug', 'quiz-llm'),
    process.env.HOME && join(process.env.HOME, '.cache', 'quiz-llm', 'target', 'debug', 'quiz-llm'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `quiz-llm binary not found (tried ${candidates.join(', ')}); run e2e/run.sh, ` +
        'or build it with `cargo build --bin quiz-llm` and set QUIZ_LLM_BIN',
    );
  }
  return found;
}

/**
 * libfaketime (Debian package `faketime`, which `.ci/run` and `e2e/run.sh` install), preloaded
 * into the server itself rather than through the `faketime` launcher: the launcher does not pass
 * SIGTERM on, and would leave the server running when the test stops it.
 */
function libfaketime() {
  const found = [
    process.env.LIBFAKETIME,
    '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/faketime/libfaketime.so.1',
  ].find((p) => p && existsSync(p));
  if (!found) {
    throw new Error(
      'libfaketime is not installed (Debian package faketime, or set LIBFAKETIME); the review test moves the server clock with it',
    );
  }
  return found;
}

async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
  srv.close();
  await once(srv, 'close');
  return port;
}

/**
 * A running server. `url` is its base URL (also its PUBLIC_URL, so e-mail links point at it).
 */
export class TestServer {
  /**
   * `env` may be a function of the port, for settings that must name it (e.g. an origin).
   * @param {{ env?: Record<string, string> | ((port: number) => Record<string, string>) }} [options]
   */
  static async start(options = {}) {
    const dir = await mkdtemp(join(tmpdir(), 'quiz-llm-e2e-'));
    // The port is chosen before start-up because PUBLIC_URL must name it. Another process can
    // take it in between; then the server exits at once and we try another port.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const env = typeof options.env === 'function' ? options.env(port) : (options.env ?? {});
      const server = new TestServer(dir, port, env);
      try {
        await server.#waitUntilListening();
        return server;
      } catch (err) {
        await server.stop({ keepDir: true });
        if (attempt >= 3 || !/address in use/i.test(server.log)) {
          await rm(dir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  /** @type {import('node:child_process').ChildProcess} */
  #child;
  log = '';

  constructor(dir, port, env) {
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.mailDir = join(dir, 'mail');
    this.env = env;
    this.#spawn(0);
  }

  /** Starts the binary; with `clockOffsetDays`, under libfaketime with its clock that far ahead. */
  #spawn(clockOffsetDays) {
    const clock = clockOffsetDays
      ? {
          LD_PRELOAD: libfaketime(),
          FAKETIME: `+${clockOffsetDays}d`,
          // Only the wall clock moves; timers and timeouts keep real time.
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
        }
      : {};
    this.#child = spawn(serverBinary(), ['serve'], {
      cwd: this.dir, // so no .env from the repository is read
      env: {
        PATH: process.env.PATH ?? '',
        LISTEN_ADDR: `127.0.0.1:${this.port}`,
        DATABASE_URL: `sqlite://${join(this.dir, 'e2e.db')}`,
        MAIL_DIR: this.mailDir,
        PUBLIC_URL: this.url,
        JWT_SECRET: 'e2e-secret-e2e-secret-e2e-secret-0123456789',
        ACCESS_TOKEN_TTL: `${ACCESS_TOKEN_TTL_MS / 1000}s`,
        // No load balancer to drain away from: stop accepting at once on SIGTERM.
        SHUTDOWN_DRAIN: '0',
        LOG_FORMAT: 'json',
        // No internet here: breached-password lookups stay off.
        PWNED_PASSWORDS_URL: 'off',
        RUST_LOG: 'info',
        ...clock,
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk) => {
      this.log += chunk.toString();
      if (process.env.E2E_SERVER_LOG) process.stderr.write(chunk);
    };
    this.#child.stdout?.on('data', collect);
    this.#child.stderr?.on('data', collect);
  }

  /**
   * Stops the server and starts it again on the same database, mail folder and port with its
   * clock `clockOffsetDays` ahead: what a learner coming back days later finds.
   */
  async restart({ clockOffsetDays }) {
    await this.stop({ keepDir: true });
    this.log = '';
    this.#spawn(clockOffsetDays);
    await this.#waitUntilListening();
  }

  async #waitUntilListening() {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.log.includes(`listening on ${this.url}`)) return;
      if (this.#child.exitCode !== null) {
        throw new Error(`quiz-llm exited with ${this.#child.exitCode} at start-up:\n${this.log}`);
      }
      await sleep(50);
    }
    throw new Error(`quiz-llm did not log "listening on ${this.url}" within 30 s:\n${this.log}`);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and deletes its files. */
  async stop({ keepDir = false } = {}) {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (!keepDir) await rm(this.dir, { recursive: true, force: true });
  }

  /** Plain-text parts of the e-mails to `address`, oldest first. */
  async emailsTo(address) {
    let names;
    try {
      names = (await readdir(this.mailDir)).filter((n) => n.endsWith('.txt'));
    } catch {
      return [];
    }
    const mails = await Promise.all(
      names.map(async (n) => {
        const path = join(this.mailDir, n);
        return { mtime: (await stat(path)).mtimeMs, text: await readFile(path, 'utf8') };
      }),
    );
    return mails
      .filter((m) => m.text.split('\n', 1)[0].startsWith('To:') && m.text.split('\n', 1)[0].includes(address))
      .sort((a, b) => a.mtime - b.mtime)
      .map((m) => m.text);
  }

  /**
   * The verification link in the newest e-mail to `address` (waits up to 5 s for it).
   * @returns {Promise<{ url: string, uid: string, token: string }>}
   */
  async verificationLink(address) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const mail = (await this.emailsTo(address)).at(-1);
      const line = mail?.split('\n').map((l) => l.trim()).find((l) => l.includes('/verify-email?'));
      if (line) {
        const url = new URL(line);
        const uid = url.searchParams.get('uid');
        const token = url.searchParams.get('token');
        if (!uid || !token) throw new Error(`verification link without uid/token: ${line}`);
        return { url: line, uid, token };
      }
      if (Date.now() > deadline) {
        throw new Error(`no e-mail with a verification link to ${address} in ${this.mailDir}`);
      }
      await sleep(100);
    }
  }
}
