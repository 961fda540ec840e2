// Chromium for the in-browser tests, with no internet: only the test server (and data: URLs)
// may be reached; anything else is aborted and remembered.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A fresh browser profile that may reach `origin` only (or each origin of an array). `blocked`
 * lists the URLs it tried to reach elsewhere; `close()` ends the browser and removes the profile.
 */
export async function offlineBrowser(origin) {
  const allowed = Array.isArray(origin) ? origin : [origin];
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (e2e/run.sh does it)`);
  const userDataDir = await mkdtemp(join(tmpdir(), 'quiz-llm-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  const blocked = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (allowed.includes(url.origin) || url.protocol === 'data:') return route.continue();
    blocked.push(url.href);
    return route.abort('internetdisconnected');
  });
  return {
    context,
    blocked,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
