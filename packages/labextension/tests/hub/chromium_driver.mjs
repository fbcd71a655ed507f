#!/usr/bin/env node
/**
 * Debian's Chromium (playwright-core from the repo's node_modules, never `playwright install`), driven over
 * stdin/stdout by tests/hub/chromium.py: one JSON command per line in, one JSON answer per line out.
 *
 *   {"op": "goto", "url": "..."}                                      -> {"status": 200, "url": "..."}
 *   {"op": "act", "locator": {"role": "button", "name": "Revoke"}, "action": "click"}
 *   {"op": "act", "locator": {"label": "Reason"}, "action": "fill", "value": "..."}
 *   {"op": "act", "locator": {...}, "action": "text" | "value" | "wait" | "count" | "check" | "select", "value": ...}
 *   {"op": "screenshot", "path": "...png"}                            -> {}
 *   {"op": "url"}                                                      -> {"url": "..."}
 *   {"op": "route", "pattern": "<glob>", "status": 503, "headers": {...}, "body": "..."} / {"op": "unroute", ...}
 *   {"op": "errors"}                                                   -> {"errors": [uncaught page errors]}
 *
 * Locators are role+name (exact), label, text or css, optionally `within` another locator. Errors come back as
 * {"error": "..."}; the process ends when stdin closes.
 */
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const TIMEOUT_MS = 15_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run'
  ]
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(TIMEOUT_MS);
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', error => pageErrors.push(String(error)));

function locate(spec, scope = page) {
  const base = spec.within ? locate(spec.within, scope) : scope;
  if (spec.role) {
    return base.getByRole(
      spec.role,
      spec.name === undefined ? {} : { name: spec.name, exact: true }
    );
  }
  if (spec.label) {
    return base.getByLabel(spec.label, { exact: true });
  }
  if (spec.text) {
    return base.getByText(spec.text, { exact: false });
  }
  return base.locator(spec.css);
}

async function act(command) {
  const target = locate(command.locator);
  switch (command.action) {
    case 'click':
      await target.click();
      return {};
    case 'fill':
      await target.fill(command.value);
      return {};
    case 'check':
      await target.check();
      return {};
    case 'select':
      await target.selectOption(command.value);
      return {};
    case 'text':
      return { text: await target.innerText() };
    case 'value':
      return { text: await target.inputValue() };
    case 'wait':
      await target.first().waitFor({ state: command.value ?? 'visible' });
      return {};
    case 'count':
      return { count: await target.count() };
    default:
      throw new Error(`unknown action ${command.action}`);
  }
}

async function run(command) {
  switch (command.op) {
    case 'goto': {
      const response = await page.goto(command.url, { waitUntil: 'networkidle' });
      return { status: response ? response.status() : 0, url: page.url() };
    }
    case 'act':
      return act(command);
    case 'screenshot':
      await page.screenshot({ path: command.path, fullPage: command.fullPage ?? true });
      return {};
    case 'url':
      return { url: page.url() };
    case 'errors':
      return { errors: pageErrors };
    case 'route':
      // Answers requests matching `pattern` (a glob) with a canned response, for states a real hub rarely shows.
      await page.route(command.pattern, route =>
        route.fulfill({
          status: command.status,
          headers: command.headers ?? {},
          body: command.body ?? ''
        })
      );
      return {};
    case 'unroute':
      await page.unroute(command.pattern);
      return {};
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    answer = await run(JSON.parse(line));
  } catch (error) {
    answer = { error: String(error && error.message ? error.message : error) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
await browser.close();
