// Usage: node validate_har.js FILE.har
// Checks a HAR file against the HAR 1.2 JSON schema (npm har-validator) and the stricter
// rules of Chrome's importer: the numeric fields it reads must be numbers. Exit 0 if valid.
'use strict';
const fs = require('fs');
const path = require('path');
const validator = require(path.join(__dirname, 'node_modules', 'har-validator'));

const file = process.argv[2];
const har = JSON.parse(fs.readFileSync(file, 'utf8'));

function chromeProblems(log) {
  const problems = [];
  const num = (v, where) => {
    if (typeof v !== 'number') problems.push(`${where} is not a number`);
  };
  log.entries.forEach((e, i) => {
    const at = `entries[${i}]`;
    num(e.time, `${at}.time`);
    num(e.request.headersSize, `${at}.request.headersSize`);
    num(e.request.bodySize, `${at}.request.bodySize`);
    num(e.response.status, `${at}.response.status`);
    num(e.response.headersSize, `${at}.response.headersSize`);
    num(e.response.bodySize, `${at}.response.bodySize`);
    num(e.response.content && e.response.content.size, `${at}.response.content.size`);
    for (const k of ['send', 'wait', 'receive']) num(e.timings[k], `${at}.timings.${k}`);
    const sum = ['blocked', 'dns', 'connect', 'send', 'wait', 'receive']
      .map((k) => Math.max(0, e.timings[k] === undefined ? 0 : e.timings[k]))
      .reduce((a, b) => a + b, 0);
    if (Math.abs(sum - e.time) > 0.01) problems.push(`${at}.time ${e.time} != timings sum ${sum}`);
    if (e.serverIPAddress && /[\[\]]|^\d+\.\d+\.\d+\.\d+:\d+$/.test(e.serverIPAddress)) {
      problems.push(`${at}.serverIPAddress is not bare: ${e.serverIPAddress}`);
    }
  });
  if (!Array.isArray(log.pages) || log.pages.length === 0) problems.push('log.pages missing');
  return problems;
}

validator.har(har)
  .then(() => {
    const problems = chromeProblems(har.log);
    if (problems.length > 0) {
      console.error(problems.join('\n'));
      process.exit(1);
    }
    console.log(`valid: ${har.log.entries.length} entries`);
  })
  .catch((err) => {
    console.error(JSON.stringify(err.errors || err.message, null, 1));
    process.exit(1);
  });
