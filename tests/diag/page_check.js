// Loads the diag page in headless Chromium and asserts that it shows a listener and an advice
// id; saves a screenshot. Usage: node page_check.js URL LISTENER ADVICE_ID SCREENSHOT PROFILE_DIR
const { chromium } = require('playwright-core');

(async () => {
  const [url, listener, adviceId, screenshot, profile] = process.argv.slice(2);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
  try {
    const page = await context.newPage();
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url, { waitUntil: 'load', timeout: 15000 });
    const listeners = await page.textContent('#listeners');
    const advice = await page.textContent('#advice');
    await page.screenshot({ path: screenshot, fullPage: true });
    const foreign = requests.filter((u) => !u.startsWith(url));
    if (!listeners.includes(listener)) throw new Error(`listener ${listener} not on the page`);
    if (!advice.includes(adviceId)) throw new Error(`advice ${adviceId} not on the page`);
    if (foreign.length) throw new Error(`external requests: ${foreign}`);
    console.log(`page shows ${listener} and ${adviceId}; screenshot ${screenshot}`);
  } finally {
    await context.close();
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
