// Usage:
//   node capture_page.js record PROFILE_DIR URL PROXY_URL SCREENSHOT [WEBSOCKET_URL]
//   node capture_page.js replay PROFILE_DIR URL HAR_FILE SCREENSHOT [DEAD_PROXY_URL]
// Drives Debian's Chromium (headless, through playwright-core) to load the capture test page
// (tests/integration/capture_support.py: a title, a script that rewrites #status, a
// stylesheet, a 16x16 PNG). `record` goes through hoplens; `replay` serves every request
// from the HAR (routeFromHAR, notFound: abort), so the page renders only if the HAR holds
// every exchange intact. With WEBSOCKET_URL, `record` then has the page open a WebSocket
// there (an echo server), send a text and a binary message and close: `websocket` in the
// output holds the echoes. Prints one JSON line: what the page showed and the TLS issuer seen.
// The caller sets HOME to a directory whose NSS db trusts hoplens's CA.
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core'));

const [mode, profile, url, arg, screenshot, extra] = process.argv.slice(2);
const deadProxy = mode === 'replay' ? extra : undefined;
const websocketUrl = mode === 'record' ? extra : undefined;

// In the page: one text and one binary message to an echo server, then a clean close.
function talkToEcho(wsUrl) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    ws.binaryType = 'arraybuffer';
    const echoes = [];
    ws.onopen = () => ws.send('hello from chromium');
    ws.onmessage = (e) => {
      echoes.push(typeof e.data === 'string' ? e.data
        : Array.from(new Uint8Array(e.data)).join(','));
      if (echoes.length === 1) ws.send(new Uint8Array([0, 1, 2, 255]).buffer);
      else ws.close(1000, 'done');
    };
    ws.onclose = (e) => resolve({ echoes, code: e.code, extensions: ws.extensions });
    ws.onerror = () => reject(new Error(`websocket ${wsUrl} failed`));
    setTimeout(() => reject(new Error(`websocket ${wsUrl}: no close within 15 s`)), 15000);
  });
}

// Only the test site goes through the proxy (a PAC script): Chromium's own background
// requests (update checks, account lookups) would otherwise reach hoplens, which would try
// names on the Internet for them. Everything else is direct and resolves to nothing, so no
// query leaves the machine.
function launchArgs(proxy, siteHost) {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-features=HttpsUpgrades', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];
  if (proxy) {
    const pac = `function FindProxyForURL(url, host) {
      return host == ${JSON.stringify(siteHost)} ? "PROXY ${new URL(proxy).host}" : "DIRECT"; }`;
    args.push(`--proxy-pac-url=data:application/x-ns-proxy-autoconfig;base64,${Buffer.from(pac).toString('base64')}`);
  }
  return args;
}

async function main() {
  const proxy = mode === 'record' ? arg : deadProxy;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: launchArgs(proxy, new URL(url).hostname),
    env: { ...process.env }, timeout: 60000,
  });
  try {
    const failed = [];
    const page = await context.newPage();
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure().errorText}`));
    if (mode === 'replay') await context.routeFromHAR(arg, { notFound: 'abort' });
    const response = await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    const details = mode === 'record' ? await response.securityDetails() : null;
    const shown = await page.evaluate(() => {
      const img = document.getElementById('logo');
      return {
        title: document.title,
        mark: document.getElementById('status').textContent,
        imageWidth: img.complete ? img.naturalWidth : 0,
        headingColor: getComputedStyle(document.getElementById('title')).color,
      };
    });
    await page.screenshot({ path: screenshot });
    const websocket = websocketUrl ? await page.evaluate(talkToEcho, websocketUrl) : null;
    console.log(JSON.stringify({ ok: true, status: response.status(), issuer: details && details.issuer,
      protocol: details && details.protocol, failed, websocket, ...shown }));
  } finally {
    await context.close();
  }
}

main().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: String(e && e.stack || e) }));
  process.exit(1);
});
