// SPDX-License-Identifier: MIT
// A real browser for the end-to-end tests: Debian's chromium driven by
// playwright-core, headless, with autoplay allowed so that an <audio>
// element can be checked to play. CHROMIUM overrides the executable.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
  });
}

// Collects what the page reports as broken: console errors (a CSP
// violation among them) and uncaught exceptions.
export function watchErrors(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}
