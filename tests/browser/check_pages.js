#!/usr/bin/env node
// The browser test: renders vignettes to HTML with `ppmg render --format html`, opens each page in
// headless Chromium and checks what a clinician would get: the page loads with no console error,
// no script and no request beyond the page itself; the four massage types, each with its outcome;
// "urgent" at the top when a warning sign is on record; hostile patient text shown verbatim as
// text. It takes a screenshot of each page.
//
// Chromium is driven through the DevTools protocol over a pipe (--remote-debugging-pipe: JSON
// messages ending in NUL on file descriptors 3 and 4), so only Node's built-ins are needed
// (Debian 12's Node 18 has no WebSocket client).
//
// Usage:
//   node check_pages.js --ppmg PATH --source-dir DIR --out DIR [--shared DIR] [--set own|shared|all]
//                       [--chromium PATH] [--content DIR] [--docs-dir DIR] [--only NAME]
//   --content is passed to ppmg (a content folder other than the one beside the plugin).
//   --docs-dir writes the cases' "docs" screenshots there (docs/screenshots), for the README.
// Exit: 0 all checks passed (or skipped with a "SKIPPED:" line), 1 a check failed.
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const url = require('url');

const kViewports = {
  desktop: {width: 1366, height: 768, deviceScaleFactor: 1, mobile: false},
  phone: {width: 390, height: 844, deviceScaleFactor: 2, mobile: true},
};
// Paper: printToPDF sizes in inches; the printable width at the print stylesheet's 10 mm margins.
const kPapers = {
  A4: {paperWidth: 8.27, paperHeight: 11.69},
  Letter: {paperWidth: 8.5, paperHeight: 11},
};
const kMaxPages = {clinician: 3, patient: 2};
const kMaxGrade = 7;                 // Flesch-Kincaid grade of the English handout
const kMinChineseShare = 0.9;        // Han characters among the letters of a zh-CN handout
const kCjkFont = /CJK|Source Han|WenQuanYi|Droid Sans Fallback|PingFang|YaHei|Hiragino/i;
const kPageTimeoutMs = 30000;
const kRunTimeoutMs = 240000;

function parseArgs(argv) {
  const args = {set: 'all', chromium: '/usr/bin/chromium', shared: ''};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${a}`);
    args[a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[++i];
  }
  for (const need of ['ppmg', 'sourceDir', 'out'])
    if (!args[need]) throw new Error(`--${need.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  return args;
}

// ---- the DevTools protocol over a pipe ------------------------------------------------------

class Browser {
  constructor(executable, userDataDir) {
    const flags = [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-extensions', '--disable-default-apps', '--no-default-browser-check', '--mute-audio',
      '--hide-scrollbars', '--remote-debugging-pipe', `--user-data-dir=${userDataDir}`, 'about:blank',
    ];
    this.proc = childProcess.spawn(executable, flags, {stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe']});
    this.stderr = '';
    this.proc.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-8000);
    });
    this.toBrowser = this.proc.stdio[3];
    this.fromBrowser = this.proc.stdio[4];
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({code, signal})));
    this.exited.then(({code, signal}) => {
      for (const {reject} of this.pending.values())
        reject(new Error(`chromium exited (code ${code}, signal ${signal}) before answering; its stderr:\n${this.stderr}`));
      this.pending.clear();
    });
    let buffer = Buffer.alloc(0);
    this.fromBrowser.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      let end;
      while ((end = buffer.indexOf(0)) >= 0) {
        const message = JSON.parse(buffer.subarray(0, end).toString('utf8'));
        buffer = buffer.subarray(end + 1);
        this.dispatch(message);
      }
    });
    this.toBrowser.on('error', () => {});  // a dead browser shows up through `exited`
  }

  dispatch(message) {
    if (message.id !== undefined) {
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      if (message.error) call.reject(new Error(`${call.method}: ${message.error.message}`));
      else call.resolve(message.result);
      return;
    }
    for (const listener of this.listeners) listener(message);
  }

  send(method, params = {}, sessionId = undefined) {
    const id = this.nextId++;
    const message = {id, method, params};
    if (sessionId) message.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject, method});
      this.toBrowser.write(JSON.stringify(message) + '\0');
    });
  }

  on(listener) {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  async close() {
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    try {
      await this.send('Browser.close');
    } catch (e) {
      // already gone
    }
    await this.exited;
    clearTimeout(timer);
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

// Opens the page in a new tab; returns what the checks need: console and network events, the
// DOM facts, and the screenshot.
async function openPage(browser, fileUrl, viewport, docsMaxHeight) {
  const {targetId} = await browser.send('Target.createTarget', {url: 'about:blank'});
  const {sessionId} = await browser.send('Target.attachToTarget', {targetId, flatten: true});
  const events = {console: [], exceptions: [], log: [], requests: [], dialogs: []};
  let loaded;
  const loadFired = new Promise((resolve) => {
    loaded = resolve;
  });
  const off = browser.on((m) => {
    if (m.sessionId !== sessionId) return;
    const p = m.params || {};
    switch (m.method) {
      case 'Runtime.consoleAPICalled':
        events.console.push({type: p.type, text: (p.args || []).map((a) => a.value ?? a.description ?? '').join(' ')});
        break;
      case 'Runtime.exceptionThrown':
        events.exceptions.push(p.exceptionDetails ? p.exceptionDetails.text : 'exception');
        break;
      case 'Log.entryAdded':
        events.log.push({level: p.entry.level, source: p.entry.source, text: p.entry.text, url: p.entry.url});
        break;
      case 'Network.requestWillBeSent':
        events.requests.push(p.request.url);
        break;
      case 'Page.javascriptDialogOpening':
        events.dialogs.push(p.message);
        browser.send('Page.handleJavaScriptDialog', {accept: false}, sessionId).catch(() => {});
        break;
      case 'Page.loadEventFired':
        loaded();
        break;
    }
  });
  try {
    for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await browser.send(`${domain}.enable`, {}, sessionId);
    await browser.send('Emulation.setDeviceMetricsOverride', viewport, sessionId);
    if (viewport.mobile) await browser.send('Emulation.setTouchEmulationEnabled', {enabled: true}, sessionId);
    const nav = await browser.send('Page.navigate', {url: fileUrl}, sessionId);
    if (nav.errorText) throw new Error(`navigation failed: ${nav.errorText}`);
    await withTimeout(loadFired, kPageTimeoutMs, `loading ${fileUrl}`);
    await new Promise((r) => setTimeout(r, 300));  // late console messages
    const evaluated = await browser.send('Runtime.evaluate', {expression: `(${domFacts.toString()})()`, returnByValue: true}, sessionId);
    if (evaluated.exceptionDetails) throw new Error(`evaluating the DOM: ${evaluated.exceptionDetails.text}`);
    const fonts = await cjkFontsUsed(browser, sessionId);
    const metrics = await browser.send('Page.getLayoutMetrics', {}, sessionId);
    const size = metrics.cssContentSize || metrics.contentSize;
    const height = Math.ceil(size.height);
    const shot = await browser.send('Page.captureScreenshot', {
      format: 'png', captureBeyondViewport: true,
      clip: {x: 0, y: 0, width: viewport.width, height, scale: 1},
    }, sessionId);
    let docsPng = null;
    if (docsMaxHeight) {
      const top = await browser.send('Page.captureScreenshot', {
        format: 'png', captureBeyondViewport: true,
        clip: {x: 0, y: 0, width: viewport.width, height: Math.min(height, docsMaxHeight), scale: 1},
      }, sessionId);
      docsPng = Buffer.from(top.data, 'base64');
    }
    // Printed: page counts on A4 and Letter, and whether anything is wider than the printable area.
    const pages = {};
    for (const [name, paper] of Object.entries(kPapers)) {
      const pdf = await browser.send('Page.printToPDF', {...paper, marginTop: 0, marginBottom: 0, marginLeft: 0,
        marginRight: 0, preferCSSPageSize: false, printBackground: false}, sessionId);
      pages[name] = pdfPageCount(Buffer.from(pdf.data, 'base64'));
    }
    await browser.send('Emulation.setEmulatedMedia', {media: 'print'}, sessionId);
    const printWidth = Math.floor((kPapers.A4.paperWidth * 25.4 - 20) / 25.4 * 96);  // 10 mm margins
    await browser.send('Emulation.setDeviceMetricsOverride', {width: printWidth, height: 1100, deviceScaleFactor: 1, mobile: false}, sessionId);
    const printed = await browser.send('Runtime.evaluate', {expression: `(${clippedInPrint.toString()})()`, returnByValue: true}, sessionId);
    await browser.send('Emulation.setEmulatedMedia', {media: ''}, sessionId);
    return {events, dom: evaluated.result.value, png: Buffer.from(shot.data, 'base64'), docsPng, height, pages,
      clipped: printed.result.value, fonts};
  } finally {
    off();
    await browser.send('Target.closeTarget', {targetId}).catch(() => {});
  }
}

// The number of pages of a PDF Chromium printed (its page objects).
function pdfPageCount(pdf) {
  const m = pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g);
  return m ? m.length : 0;
}

// Runs in the page under the print media type at the printable width: what sticks out of it.
function clippedInPrint() {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width + 1) out.push(`the page is ${document.documentElement.scrollWidth}px wide`);
  for (const e of document.body.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || getComputedStyle(e).display === 'none') continue;
    if (r.right > width + 1) out.push(`${e.tagName.toLowerCase()}.${e.className} ends at ${Math.round(r.right)}px`);
    if (out.length > 5) break;
  }
  return out;
}

// The platform fonts Chromium used for the text of the page's heading and first list item.
async function cjkFontsUsed(browser, sessionId) {
  await browser.send('DOM.enable', {}, sessionId);
  await browser.send('CSS.enable', {}, sessionId);
  const {root} = await browser.send('DOM.getDocument', {depth: -1}, sessionId);
  const used = [];
  for (const selector of ['h1', 'main li', 'main p']) {
    const {nodeId} = await browser.send('DOM.querySelector', {nodeId: root.nodeId, selector}, sessionId);
    if (!nodeId) continue;
    const {fonts} = await browser.send('CSS.getPlatformFontsForNode', {nodeId}, sessionId);
    for (const f of fonts) used.push({family: f.familyName, glyphs: f.glyphCount});
  }
  return used;
}

// Flesch-Kincaid grade: 0.39 words/sentence + 11.8 syllables/word - 15.59. A sentence ends at
// . ! ? or the end of a line (a heading, a list item); syllables by vowel groups, a final silent e
// dropped, at least one a word.
function syllables(word) {
  let w = word.toLowerCase().replace(/[^a-z]/g, '');
  if (!w) return 0;
  if (w.length <= 3) return 1;
  w = w.replace(/(?:[^laeiouy]es|ed|[^laeiouy]e)$/, '').replace(/^y/, '');
  const groups = w.match(/[aeiouy]{1,2}/g);
  return Math.max(1, groups ? groups.length : 1);
}
function fleschKincaid(text) {
  const sentences = text.split(/[.!?]+\s|[.!?]+$|\n+/).map((x) => x.trim()).filter((x) => /[A-Za-z]/.test(x));
  const words = text.split(/\s+/).filter((w) => /[A-Za-z]/.test(w));
  if (!sentences.length || !words.length) return {grade: NaN, words: 0, sentences: 0};
  const syl = words.reduce((n, w) => n + syllables(w), 0);
  return {grade: 0.39 * words.length / sentences.length + 11.8 * syl / words.length - 15.59, words: words.length, sentences: sentences.length};
}

// Runs in the page: the facts the checks read (no side effects).
function domFacts() {
  const headings = Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6')).map((h) => ({
    level: Number(h.tagName[1]), text: h.textContent.trim(),
  }));
  const banner = document.querySelector('.urgent');
  const firstMassage = document.querySelector('section[data-massage-type]');
  const massages = Array.from(document.querySelectorAll('section[data-massage-type]')).map((s) => ({
    type: s.getAttribute('data-massage-type'),
    outcome: s.getAttribute('data-outcome'),
    heading: (s.querySelector('h3') || {textContent: ''}).textContent.trim(),
    badge: (s.querySelector('.badge-label') || {textContent: ''}).textContent.trim(),
    earliest: (s.querySelector('.earliest time') || {textContent: ''}).textContent.trim(),
  }));
  const rect = (e) => (e ? e.getBoundingClientRect().top + window.scrollY : null);
  // Text contrast (WCAG 2): every element with its own text against the first opaque background
  // behind it; 4.5:1, or 3:1 for large text (24px, or 18.66px bold).
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const lowContrast = [];
  for (const e of document.body.querySelectorAll('*')) {
    const ownText = Array.from(e.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(e);
    if (!ownText || style.visibility === 'hidden' || style.display === 'none' || e.getClientRects().length === 0) continue;
    const l1 = luminance(rgb(style.color));
    const l2 = luminance(background(e));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) lowContrast.push(`${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}:1`);
  }
  return {
    lang: document.documentElement.getAttribute('lang'),
    title: document.title,
    doctype: document.doctype ? document.doctype.name : null,
    compatMode: document.compatMode,
    charset: document.characterSet,
    scripts: document.querySelectorAll('script').length,
    handlers: Array.from(document.querySelectorAll('*')).filter((e) =>
      Array.from(e.attributes).some((a) => /^on/i.test(a.name))).length,
    embeds: document.querySelectorAll('iframe,object,embed,img,link[rel=stylesheet],video,audio,source').length,
    javascriptLinks: Array.from(document.querySelectorAll('a[href]')).filter((a) =>
      /^\s*javascript:/i.test(a.getAttribute('href'))).length,
    tables: document.querySelectorAll('table').length,
    tablesWithoutCaption: Array.from(document.querySelectorAll('table')).filter((t) =>
      !t.caption || !t.caption.textContent.trim()).length,
    headings,
    main: document.querySelectorAll('main').length,
    bannerText: banner ? banner.textContent.replace(/\s+/g, ' ').trim() : null,
    bannerTop: rect(banner),
    firstMassageTop: rect(firstMassage),
    massages,
    text: document.body.textContent,
    innerText: document.body.innerText,
    brokenAnchors: Array.from(document.querySelectorAll('a[href^="#"]')).map((a) => a.getAttribute('href').slice(1))
        .filter((id) => id && !document.getElementById(id)),
    horizontalOverflow: document.documentElement.scrollWidth > window.innerWidth + 1,
    // Boxes that scroll sideways inside the page (a table in a scrolling wrapper, say).
    innerScrollers: Array.from(document.body.querySelectorAll('*')).filter((e) => {
      const o = getComputedStyle(e).overflowX;
      return (o === 'auto' || o === 'scroll') && e.scrollWidth > e.clientWidth + 1;
    }).map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
    // The first screen: what lies wholly above the fold, before any scrolling.
    firstScreen: (() => {
      const fold = window.innerHeight;
      const seen = (e) => !!e && e.getBoundingClientRect().bottom <= fold && e.getClientRects().length > 0;
      const rows = Array.from(document.querySelectorAll('table.summary tr[data-massage-type]'));
      return {
        name: seen(document.querySelector('.fact-patient')),
        mrn: seen(document.querySelector('.fact-mrn')),
        facts: Array.from(document.querySelectorAll('.facts .fact')).filter(seen).map((f) => f.querySelector('dt').textContent.trim()),
        draft: seen(document.querySelector('#v-draft')),
        rows: rows.map((r) => ({type: r.getAttribute('data-massage-type'), outcome: r.getAttribute('data-outcome'),
          seen: seen(r), reason: (r.querySelector('td.reason') || {textContent: ''}).textContent.trim(),
          earliest: (r.querySelector('.col-earliest time, .earliest-inline time') || {getAttribute: () => ''}).getAttribute('datetime') || ''})),
        urgentFirst: (() => {
          const banner = document.querySelector('.urgent');
          const first = document.body.firstElementChild;
          return !!banner && first === banner && banner.getBoundingClientRect().top < 60;
        })(),
      };
    })(),
    mainText: (document.querySelector('main') || document.body).innerText,
    lowContrast,
  };
}

// ---- the checks -----------------------------------------------------------------------------

function checkPage(c, html, page, massageTypes) {
  const problems = [];
  const fail = (what) => problems.push(what);
  const {dom, events} = page;

  // The file itself.
  if (!/^<!DOCTYPE html>/i.test(html)) fail('the file does not start with <!DOCTYPE html>');
  if (/<script/i.test(html)) fail('the file contains "<script"');
  for (const t of c.rawTexts || []) if (!html.includes(t)) fail(`the file lacks ${JSON.stringify(t)} as written`);

  // Loaded cleanly, loaded nothing else, ran nothing.
  for (const m of events.console) if (m.type === 'error' || m.type === 'assert') fail(`console ${m.type}: ${m.text}`);
  for (const e of events.exceptions) fail(`exception: ${e}`);
  for (const l of events.log) if (l.level === 'error') fail(`console error (${l.source}): ${l.text} ${l.url || ''}`);
  for (const d of events.dialogs) fail(`a dialog opened: ${d}`);
  const others = events.requests.filter((u) => u !== page.url);
  if (others.length) fail(`requests beyond the page: ${others.join(', ')}`);
  if (dom.scripts !== 0) fail(`${dom.scripts} <script> element(s) in the DOM`);
  if (dom.handlers !== 0) fail(`${dom.handlers} element(s) with an event-handler attribute`);
  if (dom.embeds !== 0) fail(`${dom.embeds} embedded or external resource element(s)`);
  if (dom.javascriptLinks !== 0) fail('javascript: links');

  // The document as HTML: language, standards mode, structure, accessibility basics.
  if (!dom.lang) fail('no lang attribute on <html>');
  if (dom.doctype !== 'html' || dom.compatMode !== 'CSS1Compat') fail(`not in standards mode (${dom.compatMode})`);
  if (dom.charset !== 'UTF-8') fail(`character set ${dom.charset}`);
  if (dom.main !== 1) fail(`${dom.main} <main> elements`);
  const h1 = dom.headings.filter((h) => h.level === 1).length;
  if (h1 !== 1) fail(`${h1} <h1> elements`);
  for (let i = 1; i < dom.headings.length; i++)
    if (dom.headings[i].level > dom.headings[i - 1].level + 1)
      fail(`heading level skips from h${dom.headings[i - 1].level} to h${dom.headings[i].level} at "${dom.headings[i].text}"`);
  if (dom.tablesWithoutCaption) fail(`${dom.tablesWithoutCaption} table(s) without a caption`);
  if (dom.brokenAnchors.length) fail(`links to missing anchors: ${dom.brokenAnchors.join(', ')}`);
  if (dom.horizontalOverflow) fail('the page scrolls sideways');
  for (const t of dom.lowContrast) fail(`text contrast below WCAG AA: ${t}`);

  // On paper: few pages, nothing beyond the printable width.
  const audience = c.audience || 'clinician';
  for (const [paper, n] of Object.entries(page.pages || {}))
    if (!(n >= 1 && n <= kMaxPages[audience])) fail(`printed on ${paper}: ${n} pages, at most ${kMaxPages[audience]}`);
  for (const x of page.clipped || []) fail(`clipped in print: ${x}`);
  if (dom.innerScrollers.length) fail(`boxes that scroll sideways: ${dom.innerScrollers.join(', ')}`);
  for (const t of c.texts || []) if (!dom.text.includes(t)) fail(`the text ${JSON.stringify(t)} is not on the page verbatim`);
  for (const t of c.absent || []) if (dom.innerText.includes(t)) fail(`the page shows ${JSON.stringify(t)}`);
  if (audience === 'patient') return problems.concat(checkHandout(c, page));

  // What the clinician must see.
  for (const name of massageTypes) if (!dom.innerText.includes(name)) fail(`the massage type "${name}" is not on the page`);
  if (dom.massages.length !== massageTypes.length) fail(`${dom.massages.length} massage sections, expected ${massageTypes.length}`);
  for (const m of dom.massages) if (!m.badge) fail(`no outcome label for ${m.type}`);
  if (c.urgent) {
    if (!/urgent/i.test(dom.innerText)) fail('"urgent" is not on the page');
    if (!dom.bannerText || !/urgent/i.test(dom.bannerText)) fail('no urgent banner');
    else if (dom.firstMassageTop !== null && !(dom.bannerTop < dom.firstMassageTop)) fail('the urgent banner is not above the guidance');
    if (!/urgent/i.test(dom.title)) fail('the page title does not say urgent');
  } else if (dom.bannerText) {
    fail(`an urgent banner on a page with no warning sign: ${dom.bannerText}`);
  }
  for (const [type, outcome] of Object.entries(c.outcomes || {})) {
    const m = dom.massages.find((x) => x.type === type);
    if (!m) fail(`no section for ${type}`);
    else if (m.outcome !== outcome) fail(`${type}: outcome ${m.outcome}, expected ${outcome}`);
  }
  for (const [type, date] of Object.entries(c.earliest || {})) {
    const m = dom.massages.find((x) => x.type === type);
    if (!m || !m.earliest.startsWith(date)) fail(`${type}: earliest date "${m ? m.earliest : ''}", expected ${date}`);
  }
  // The first screen (1366x768): who, the MRN, day and delivery, the four types with outcome, reason
  // and earliest date, the draft notice; for escalate the urgent banner first.
  if (!c.viewport || c.viewport === 'desktop') {
    const fs = dom.firstScreen;
    if (!fs.name) fail('first screen: no patient name');
    if (c.mrn !== false && !fs.mrn) fail('first screen: no MRN / identifier');
    for (const fact of ['Postpartum day', 'Delivery']) if (!fs.facts.some((f) => f.toLowerCase() === fact.toLowerCase())) fail(`first screen: no ${fact}`);
    if (!fs.draft) fail('first screen: no draft notice');
    if (fs.rows.length !== massageTypes.length) fail(`first screen: ${fs.rows.length} summary rows`);
    for (const r of fs.rows) {
      if (!r.seen) fail(`first screen: the summary row for ${r.type} is below the fold`);
      if (!r.reason) fail(`first screen: no reason for ${r.type}`);
      if (c.outcomes && c.outcomes[r.type] && r.outcome !== c.outcomes[r.type]) fail(`summary: ${r.type} ${r.outcome}`);
    }
    for (const [type, date] of Object.entries(c.earliest || {})) {
      const r = fs.rows.find((x) => x.type === type);
      if (!r || r.earliest !== date) fail(`first screen: ${type} earliest date ${r ? r.earliest : ''}, expected ${date}`);
    }
    if (c.urgent && !fs.urgentFirst) fail('the urgent banner is not the first thing on the page');
  }
  return problems;
}

// The handout: her language, plain words, no codes or ids; measured.
function checkHandout(c, page) {
  const problems = [];
  const fail = (what) => problems.push(what);
  const {dom} = page;
  const lang = c.lang || 'en';
  const expectedLang = lang === 'en' ? 'en-US' : lang;
  if (dom.lang !== expectedLang) fail(`lang ${dom.lang}, expected ${expectedLang}`);
  if (/PPM-[A-Z]+-\d|Observation\/|Procedure\/|Condition\/|urn:|LOINC|SNOMED|https?:|\b\d{4,}-\d\b/.test(dom.innerText))
    fail('the handout shows a code, an id or a rule name');
  if (dom.massages.length) fail('the handout has clinician massage sections');
  if (c.urgent && !/h-handout-urgent/.test(page.html || '')) fail('no urgent section in the handout');
  if (lang === 'en') {
    const fk = fleschKincaid(dom.mainText);
    page.measured = `grade ${fk.grade.toFixed(1)} (${fk.words} words, ${fk.sentences} sentences)`;
    if (!(fk.grade <= kMaxGrade)) fail(`readability: Flesch-Kincaid grade ${fk.grade.toFixed(1)}, at most ${kMaxGrade}`);
  } else {
    const letters = dom.innerText.match(/\p{L}/gu) || [];
    const han = dom.innerText.match(/\p{Script=Han}/gu) || [];
    const share = han.length / Math.max(1, letters.length);
    page.measured = `Chinese ${(share * 100).toFixed(1)}% of ${letters.length} letters`;
    if (share < kMinChineseShare) fail(`only ${(share * 100).toFixed(1)}% of the letters are Chinese`);
    const cjk = page.fonts.filter((f) => kCjkFont.test(f.family) && f.glyphs > 0);
    if (!cjk.length) fail(`no CJK font renders the text (fonts used: ${page.fonts.map((f) => f.family).join(', ')})`);
    else page.measured += `, font ${cjk[0].family}`;
  }
  return problems;
}

// HL7's CDA stylesheet (CDA.xsl) warns "Potentially malicious content" for any attribute of the
// narrative holding a line break, a quote, ':', ';', '?', '`', '{', '}' or a curly quote, and stops
// at "javascript": the same test over every attribute inside <text>.
function hl7StylesheetWarnings(cda) {
  const out = [];
  const bad = /[\n\r"':;?`{}\u201c\u201d\u201e\u201a\u2019]|javascript/i;
  for (const block of cda.match(/<text>[\s\S]*?<\/text>/g) || []) {
    for (const m of block.matchAll(/\s([\w:-]+)="([^"]*)"/g)) {
      const value = m[2].replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#10;/g, '\n').replace(/&#13;/g, '\r')
          .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      if (bad.test(value)) out.push(`${m[1]}="${m[2]}"`);
    }
  }
  return out;
}

// ---- the run ----------------------------------------------------------------------------------

function loadCases(args) {
  const file = path.join(__dirname, 'cases.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  const expand = (s) => s.replace('${shared}', args.shared);
  const cases = [];
  for (const c of spec.cases) {
    if (args.set !== 'all' && c.set !== args.set) continue;
    if (args.only && c.name !== args.only) continue;
    const out = {...c};
    if (c.set === 'shared') {
      if (!args.shared || !fs.existsSync(args.shared)) {
        out.skip = '../shared is absent';
      } else {
        out.record = expand(c.record);
        if (c.expectedFrom) {
          const expected = JSON.parse(fs.readFileSync(expand(c.expectedFrom), 'utf8'))[path.basename(out.record)];
          if (!expected) throw new Error(`${c.expectedFrom} has no entry for ${path.basename(out.record)}`);
          out.outcomes = expected.outcomes;
          out.earliest = expected.earliest || {};
          out.asOf = expected.asOf;
        }
      }
    } else {
      out.record = path.resolve(args.sourceDir, c.record);
    }
    out.asOf = out.asOf || spec.asOf;
    cases.push(out);
  }
  return {cases, massageTypes: spec.massageTypes};
}

function render(args, c, outPath, format = 'html') {
  const options = args.content ? ['--content', args.content] : [];
  if (c.audience) options.push('--audience', c.audience);
  if (c.lang) options.push('--lang', c.lang);
  const r = childProcess.spawnSync(args.ppmg,
      ['render', ...options, '--as-of', c.asOf, '--format', format, '-o', outPath, c.record], {encoding: 'utf8'});
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ppmg render exited ${r.status}: ${r.stderr.trim()}`);
  return fs.readFileSync(outPath, 'utf8');
}

// Runs HL7's own CDA.xsl over the document when PPMG_HL7_CDA_XSL names it (no package in the
// Debian or npm registries carries it): its messages must hold no warning.
function runHl7Stylesheet(cdaPath) {
  const xsl = process.env.PPMG_HL7_CDA_XSL;
  if (!xsl || !fs.existsSync(xsl)) return null;
  const r = childProcess.spawnSync('xsltproc', ['-o', cdaPath + '.hl7.html', xsl, cdaPath], {encoding: 'utf8'});
  if (r.error) throw r.error;
  return (r.stderr || '').split('\n').filter((l) => /malicious|javascript|terminated/i.test(l));
}

// A PNG's size from its IHDR chunk (and the proof that it is a PNG).
function pngSize(buffer) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buffer.length < 24 || !buffer.subarray(0, 8).equals(signature)) return null;
  return {width: buffer.readUInt32BE(16), height: buffer.readUInt32BE(20)};
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const inCi = !!process.env.CI;
  if (!fs.existsSync(args.chromium)) {
    const message = `${args.chromium} is not installed (scripts/setup.sh --test installs Debian's chromium)`;
    if (inCi) throw new Error(message);
    console.log(`SKIPPED: ${message}`);
    return 0;
  }
  const {cases, massageTypes} = loadCases(args);
  if (cases.every((c) => c.skip)) {
    for (const c of cases) console.log(`SKIPPED: ${c.name}: ${c.skip}`);
    console.log(`browser: 0 passed, 0 failed, ${cases.length} skipped`);
    return 0;
  }
  fs.mkdirSync(args.out, {recursive: true});
  if (args.docsDir) fs.mkdirSync(args.docsDir, {recursive: true});

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ppmg-browser-'));
  const browser = new Browser(args.chromium, userDataDir);
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  try {
    await withTimeout(browser.send('Browser.getVersion'), kPageTimeoutMs, 'starting chromium')
        .then((v) => console.log(`browser: ${v.product}`));
    for (const c of cases) {
      if (c.skip) {
        console.log(`SKIPPED: ${c.name}: ${c.skip}`);
        skipped++;
        continue;
      }
      const htmlPath = path.join(args.out, `${c.name}.html`);
      const pngPath = path.join(args.out, `${c.name}.png`);
      let problems;
      let measured = '';
      try {
        const html = render(args, c, htmlPath);
        const cdaPath = path.join(args.out, `${c.name}.xml`);
        const cda = render(args, c, cdaPath, 'cda');
        const viewport = kViewports[c.viewport || 'desktop'];
        const fileUrl = url.pathToFileURL(path.resolve(htmlPath)).href;
        const docsMaxHeight = args.docsDir && c.docs ? c.docs.maxHeight || 1600 : 0;
        const page = await openPage(browser, fileUrl, viewport, docsMaxHeight);
        page.url = fileUrl;
        fs.writeFileSync(pngPath, page.png);
        page.html = html;
        problems = checkPage(c, html, page, massageTypes);
        for (const w of hl7StylesheetWarnings(cda)) problems.push(`HL7's CDA stylesheet would warn about ${w}`);
        const hl7 = runHl7Stylesheet(cdaPath);
        if (hl7) for (const w of hl7) problems.push(`HL7's CDA.xsl: ${w}`);
        measured = [`pages A4 ${page.pages.A4}, Letter ${page.pages.Letter}`, page.measured, hl7 ? 'CDA.xsl run' : '']
            .filter(Boolean).join('; ');
        const size = pngSize(fs.readFileSync(pngPath));
        if (!size || size.width < viewport.width || size.height < 200) problems.push(`the screenshot ${pngPath} is not a page-sized PNG`);
        if (page.docsPng) {
          fs.writeFileSync(path.join(args.docsDir, c.docs.file), page.docsPng);
          console.log(`  docs: ${path.join(args.docsDir, c.docs.file)}`);
        }
        for (const l of page.events.log) if (l.level === 'warning') console.log(`  note: ${c.name}: console warning: ${l.text}`);
      } catch (e) {
        problems = [e.message];
      }
      if (problems.length) {
        failed++;
        console.log(`FAIL ${c.name} (${htmlPath})`);
        for (const p of problems) console.log(`  - ${p}`);
      } else {
        passed++;
        console.log(`ok   ${c.name}: ${pngPath} (${measured})`);
      }
    }
  } finally {
    await browser.close();
    fs.rmSync(userDataDir, {recursive: true, force: true});
  }
  console.log(`browser: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
  return failed ? 1 : 0;
}

if (require.main === module) {
  const watchdog = setTimeout(() => {
    console.log(`FAIL: the browser test ran longer than ${kRunTimeoutMs / 1000} s`);
    process.exit(1);
  }, kRunTimeoutMs);
  main().then((code) => {
    clearTimeout(watchdog);
    process.exitCode = code;
  }, (e) => {
    clearTimeout(watchdog);
    console.log(`FAIL: ${e.message}`);
    process.exitCode = 1;
  });
}

module.exports = {Browser, withTimeout, kViewports};
