// `ppmg listen` against an MLLP peer nobody in ppmg wrote: Medplum's @medplum/hl7 (npm), as the
// sending client and as the forward peer that receives the MDM^T02 messages.
//   - every message is acknowledged AA with its control id (MSA-2 = MSH-10);
//   - every accepted record reaches the forward peer as one MDM^T02 whose Base64 CDA carries the
//     outcomes `ppmg assess` gives for the same record (and the expected ones for known cases);
//   - garbage, bad content, an unsupported version and an unsupported message type are answered
//     AR or AE (with ERR naming segment and field) while the listener keeps serving;
//   - a batch gets one ACK: MSA-2 is BHS-11, else the first MSH-10; and one MDM;
//   - the outbox survives a kill -9 while the peer is down: after a restart, the MDMs arrive;
//   - a forward peer that answers AE is tried again; SIGTERM stops the listener cleanly;
//   - MLLP over TLS (node's tls as the client).
// Usage: node mllp_peer_test.cjs PPMG_BIN WORK_DIR
'use strict';
const { Hl7Server, Hl7Client } = require('@medplum/hl7');
const { Hl7Message } = require('@medplum/core');
const { spawn, execFileSync } = require('node:child_process');
const net = require('node:net');
const tls = require('node:tls');
const fs = require('node:fs');
const path = require('node:path');

const [ppmg, work] = process.argv.slice(2);
const started = Date.now();
let failures = 0;
const check = (ok, what) => {
  if (!ok) {
    failures++;
    console.error(`mllp: FAILED: ${what}`);
  }
};
const say = (m) => console.log(`mllp: ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred, ms, what) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await pred()) return true;
    await sleep(50);
  }
  check(false, `timed out waiting for ${what}`);
  return false;
}

// ---- records, dated relative to today (the listener evaluates as of the day they arrive) ----
const day = (n) => {
  const d = new Date(Date.now() - n * 86400000);
  return d.toISOString().slice(0, 10).replace(/-/g, '');
};
let counter = 0;
function record({ type = 'ORU^R01^ORU_R01', version = '2.5.1', id, segments }) {
  const control = `CTL-${++counter}`;
  const text = [`MSH|^~\\&|EHR|WARD|PPMG|HOSP|${day(0)}120000+0000||${type}|${control}|P|${version}`,
    `PID|1||${id}^^^HOSP^MR||Test^Patient${counter}||19900101|F`, ...segments].join('\r') + '\r';
  return { control, text, id };
}
const cases = [
  { name: 'caesarean day 10', expect: { abdominal: 'defer' },
    segments: [`PR1|1||11466000^Cesarean section^SCT||${day(10)}0800`, 'PRB|AD||72892002^Normal pregnancy^SCT||||||||||confirmed|resolved',
      'ORC|NW|1|||IP', 'RXE||161^acetaminophen^RXNORM'] },
  { name: 'vaginal day 20, fever yesterday', expect: { abdominal: 'block', 'low-back': 'block', breast: 'block', 'shoulder-neck': 'block' },
    segments: [`PR1|1||177184002^Normal delivery^SCT||${day(20)}`, 'PRB|AD||72892002^^SCT||||||||||confirmed|resolved',
      'ORC|NW|1|||IP', 'RXE||161^^RXNORM', 'OBR|1', `OBX|1|NM|8310-5^Body temperature^LN||38.4|Cel^^UCUM|||||F|||${day(1)}0900`] },
  { name: 'vaginal day 30, enoxaparin', expect: { abdominal: 'modify' },
    segments: [`PR1|1||177184002^^SCT||${day(30)}`, 'PRB|AD||72892002^^SCT||||||||||confirmed|resolved',
      'ORC|NW|1|||IP', 'RXE||67108^enoxaparin^RXNORM'] },
];
for (let i = 0; i < 9; i++)
  cases.push({ name: `vaginal day ${14 + i}`, segments: [`PR1|1||177184002^^SCT||${day(14 + i)}`, 'ORC|NW|1|||IP', 'RXE||161^^RXNORM'] });

// ---- the forward peer: Medplum's Hl7Server, recording each MDM and answering with its ACK ----
const received = [];
let answerAeOnce = false;
let aeSent = 0;
async function startPeer(port) {
  const connections = [];
  const server = new Hl7Server((conn) => {
    connections.push(conn);
    conn.addEventListener('message', ({ message }) => {
      if (answerAeOnce) {
        answerAeOnce = false;
        aeSent++;
        const control = message.getSegment('MSH').getField(10).toString();
        conn.send(Hl7Message.parse(`MSH|^~\\&|PEER|PEER|PPMG|ppmg|${day(0)}||ACK^T02^ACK|AE-${control}|P|2.5.1\rMSA|AE|${control}|try again`));
        return;
      }
      received.push(message.toString());
      conn.send(message.buildAck());
    });
  });
  await server.start(port);
  // Stopping closes the connections first (the listener's forwarder keeps its connection open).
  return { stop: async () => { for (const c of connections) { try { await c.close(); } catch (e) { /* already closed */ } } await server.stop(); } };
}

// ---- the listener ----
function startListener(args, logFile) {
  const child = spawn(ppmg, ['listen', '--mllp', '127.0.0.1:0', '--log', logFile, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const ready = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      const m = /listening on ([0-9.]+):(\d+)/.exec(err);
      if (m) resolve(Number(m[2]));
    });
    child.on('exit', (code) => reject(new Error(`ppmg listen exited ${code}: ${err}`)));
  });
  return { child, ready, stderr: () => err };
}
const exited = (child) => new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('exit', (c) => r(c))));

// A raw MLLP exchange: send framed bytes (plus junk around them), read one framed answer.
function rawExchange(port, payload, { junk = '', secure = false } = {}) {
  return new Promise((resolve, reject) => {
    const sock = secure ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('no answer')); }, 10000);
    sock.on(secure ? 'secureConnect' : 'connect', () => sock.write(Buffer.concat([Buffer.from(junk), Buffer.from([0x0b]), Buffer.from(payload), Buffer.from([0x1c, 0x0d])])));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf(0x1c);
      if (end >= 0) {
        clearTimeout(timer);
        sock.end();
        resolve(buf.subarray(buf.indexOf(0x0b) + 1, end).toString());
      }
    });
    sock.on('error', reject);
  });
}
const field = (msg, seg, n) => {
  const line = msg.split('\r').find((l) => l.startsWith(seg + '|'));
  if (!line) return undefined;
  const f = line.split('|');
  return seg === 'MSH' ? f[n - 1] : f[n];
};

// The outcomes in an MDM's CDA, in the order of the massage types.
function mdmOutcomes(mdm) {
  const obx5 = field(mdm, 'OBX', 5) || '';
  const cda = Buffer.from(obx5.split('^')[4] || '', 'base64').toString();
  return { cda, outcomes: [...cda.matchAll(/code="massage-outcome"[\s\S]*?<value xsi:type="CD" code="([a-z-]+)"/g)].map((m) => m[1]) };
}
function assessOutcomes(text) {
  const f = path.join(work, `record-${Math.random().toString(36).slice(2)}.hl7`);
  fs.writeFileSync(f, text);
  const json = JSON.parse(execFileSync(ppmg, ['assess', '--format', 'json', f]).toString());
  return json.massages;
}

async function main() {
  const outbox = path.join(work, 'outbox');
  const log = path.join(work, 'listen.log');
  const peerPort = await new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  let peer = await startPeer(peerPort);
  let listener = startListener(['--forward', `127.0.0.1:${peerPort}`, '--outbox', outbox], log);
  let port = await listener.ready;
  say(`listening on ${port}, forwarding to ${peerPort}`);

  // 1. Every message ACKed AA with its control id; every MDM forwarded with the right outcomes.
  const client = new Hl7Client({ host: '127.0.0.1', port });
  const sent = [];
  for (const c of cases) {
    const r = record({ id: `P-${counter + 1}`, segments: c.segments });
    const ack = await client.sendAndWait(Hl7Message.parse(r.text), { returnAck: 'first', timeoutMs: 10000 });
    check(ack.getSegment('MSA').getField(1).toString() === 'AA', `${c.name}: MSA-1 ${ack.getSegment('MSA').getField(1)}`);
    check(ack.getSegment('MSA').getField(2).toString() === r.control, `${c.name}: MSA-2 names ${r.control}`);
    sent.push({ ...r, c });
  }
  await waitFor(() => received.length >= sent.length, 20000, `${sent.length} MDMs at the forward peer`);
  for (const s of sent) {
    const mdm = received.find((m) => (field(m, 'PID', 3) || '').startsWith(s.id + '^'));
    check(!!mdm, `an MDM for ${s.id}`);
    if (!mdm) continue;
    check(field(mdm, 'MSH', 9) === 'MDM^T02^MDM_T02', `${s.id}: MSH-9 MDM^T02`);
    check(field(mdm, 'OBX', 2) === 'ED', `${s.id}: OBX-2 ED`);
    const { cda, outcomes } = mdmOutcomes(mdm);
    check(cda.includes('<ClinicalDocument'), `${s.id}: OBX-5 holds a CDA document`);
    const expected = assessOutcomes(s.text);
    const names = Object.keys(expected);
    check(JSON.stringify(outcomes) === JSON.stringify(names.map((k) => expected[k].outcome)),
      `${s.id} (${s.c.name}): CDA outcomes ${outcomes} = ppmg assess ${names.map((k) => expected[k].outcome)}`);
    for (const [type, outcome] of Object.entries(s.c.expect || {}))
      check(outcomes[names.indexOf(type)] === outcome, `${s.c.name}: ${type} is ${outcome}, got ${outcomes[names.indexOf(type)]}`);
  }
  say(`${sent.length} messages ACKed AA, ${received.length} MDMs forwarded`);

  // 2. Garbage and bad content: AR/AE, and the listener keeps serving.
  const garbage = await rawExchange(port, 'hello, this is not HL7 at all', { junk: 'noise before the frame' });
  check(['AR', 'AE'].includes(field(garbage, 'MSA', 1)), `garbage answered AR/AE: ${garbage}`);
  const badDate = record({ id: 'P-BAD', segments: ['OBR|1', 'OBX|1|NM|8310-5^^LN||38|Cel|||||F|||yesterday'] });
  const ae = await rawExchange(port, badDate.text);
  check(field(ae, 'MSA', 1) === 'AE' && field(ae, 'MSA', 2) === badDate.control, `bad content answered AE naming ${badDate.control}: ${ae}`);
  check(field(ae, 'ERR', 2) === 'OBX^1^14^1' && (field(ae, 'ERR', 3) || '').startsWith('102^'), `ERR names OBX-14 (code 102): ${ae}`);
  const old = record({ id: 'P-OLD', version: '2.2', segments: [] });
  const ar = await rawExchange(port, old.text);
  check(field(ar, 'MSA', 1) === 'AR' && (field(ar, 'ERR', 3) || '').startsWith('203^'), `version 2.2 answered AR 203: ${ar}`);
  const query = record({ id: 'P-Q', type: 'QBP^Q22^QBP_Q21', segments: [] });
  const ar2 = await rawExchange(port, query.text);
  check(field(ar2, 'MSA', 1) === 'AR' && (field(ar2, 'ERR', 3) || '').startsWith('200^'), `QBP answered AR 200: ${ar2}`);
  const after = record({ id: 'P-AFTER', segments: [`PR1|1||177184002^^SCT||${day(25)}`] });
  const ack = await client.sendAndWait(Hl7Message.parse(after.text), { returnAck: 'first', timeoutMs: 10000 });
  check(ack.getSegment('MSA').getField(1).toString() === 'AA', 'a good message after the garbage is accepted');
  await client.close();

  // 3. Batches: one ACK (MSA-2 = BHS-11, else the first MSH-10) and one MDM each.
  await waitFor(() => received.some((m) => (field(m, 'PID', 3) || '').startsWith('P-AFTER^')), 10000, "P-AFTER's MDM");
  const before = received.length;
  const m1 = record({ id: 'P-B1', segments: [`PR1|1||177184002^^SCT||${day(16)}`] });
  const m2 = record({ id: 'P-B1', segments: ['OBR|1', `OBX|1|NM|8310-5^^LN||36.8|Cel|||||F|||${day(1)}`] });
  const batch = `FHS|^~\\&|EHR\rBHS|^~\\&|EHR|WARD|||${day(0)}||||B-42\r${m1.text}${m2.text}BTS|2\rFTS|1\r`;
  const b1 = await rawExchange(port, batch);
  check(field(b1, 'MSA', 1) === 'AA' && field(b1, 'MSA', 2) === 'B-42', `a batch ACKed once naming BHS-11: ${b1}`);
  const m3 = record({ id: 'P-B2', segments: [`PR1|1||177184002^^SCT||${day(17)}`] });
  const m4 = record({ id: 'P-B2', segments: [] });
  const b2 = await rawExchange(port, `BHS|^~\\&|EHR\r${m3.text}${m4.text}BTS|2\r`);
  check(field(b2, 'MSA', 1) === 'AA' && field(b2, 'MSA', 2) === m3.control, `a batch without BHS-11 names its first MSH-10: ${b2}`);
  await waitFor(() => received.length >= before + 2, 10000, 'one MDM per batch');
  check(received.filter((m) => (field(m, 'PID', 3) || '').startsWith('P-B1^')).length === 1, 'batch B-42 gave one MDM');

  // 4. A forward peer that answers AE is tried again.
  answerAeOnce = true;
  const retried = record({ id: 'P-RETRY', segments: [`PR1|1||177184002^^SCT||${day(18)}`] });
  await rawExchange(port, retried.text);
  await waitFor(() => received.some((m) => (field(m, 'PID', 3) || '').startsWith('P-RETRY^')), 10000, 'the MDM after an AE from the peer');
  check(aeSent === 1 && /"event":"forward-retry"/.test(fs.readFileSync(log, 'utf8')), 'the AE was retried');

  // 5. The outbox survives a kill -9 while the peer is down.
  await peer.stop();
  const held = [];
  for (let i = 0; i < 3; i++) {
    const r = record({ id: `P-HELD-${i}`, segments: [`PR1|1||177184002^^SCT||${day(20 + i)}`] });
    const a = await rawExchange(port, r.text);
    check(field(a, 'MSA', 1) === 'AA', `accepted while the peer is down: ${a}`);
    held.push(r.id);
  }
  listener.child.kill('SIGKILL');
  await exited(listener.child);
  peer = await startPeer(peerPort);
  listener = startListener(['--forward', `127.0.0.1:${peerPort}`, '--outbox', outbox], log);
  port = await listener.ready;
  await waitFor(() => held.every((id) => received.some((m) => (field(m, 'PID', 3) || '').startsWith(id + '^'))), 15000,
    'the held MDMs after the restart');
  check(/"outbox_recovered":[1-9]/.test(fs.readFileSync(log, 'utf8')), 'the restart recovered the outbox');

  // 6. SIGTERM stops it cleanly.
  listener.child.kill('SIGTERM');
  check((await exited(listener.child)) === 0, 'exit status 0 after SIGTERM');
  check(/"event":"stopped"/.test(fs.readFileSync(log, 'utf8')), 'a stopped line in the log');
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  check(lines.filter((l) => l.event === 'message').length >= sent.length + 10, 'one log line per message');
  await peer.stop();

  // 7. MLLP over TLS.
  const key = path.join(work, 'key.pem'), cert = path.join(work, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const secure = startListener(['--tls-cert', cert, '--tls-key', key], path.join(work, 'tls.log'));
  const securePort = await secure.ready;
  const r = record({ id: 'P-TLS', segments: [`PR1|1||177184002^^SCT||${day(21)}`] });
  const t = await rawExchange(securePort, r.text, { secure: true });
  check(field(t, 'MSA', 1) === 'AA' && field(t, 'MSA', 2) === r.control, `AA over TLS: ${t}`);
  secure.child.kill('SIGTERM');
  await exited(secure.child);

  say(`${failures === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`mllp: FAILED: ${e.stack || e}`);
  process.exit(1);
});
