// Helpers of the fetch test (tests/server/fhir_fetch_test.sh), Node's built-in modules only.
//
//   node tool.mjs load BASE FILE...        PUT every resource of the Bundles to the FHIR server at
//                                          BASE, urn:uuid references turned into Type/id (as a
//                                          transaction would); prints the Patient ids
//   node tool.mjs prefetch DISCOVERY.json BASE TOKEN PATIENT_ID
//                                          what an EHR would prefetch: every template of the
//                                          discovery document, read from the FHIR server
//   node tool.mjs compare A.json B.json    exits 1 unless both answers have the same cards (their
//                                          uuids and view links aside)
// HTTPS with a private CA: NODE_EXTRA_CA_CERTS=ca.pem.
import { readFileSync } from 'node:fs';

const [cmd, ...args] = process.argv.slice(2);

async function load(base, files) {
  const patients = [];
  for (const file of files) {
    const bundle = JSON.parse(readFileSync(file, 'utf8'));
    const entries = bundle.resourceType === 'Bundle' ? bundle.entry ?? [] : [{ resource: bundle }];
    const map = new Map();
    for (const e of entries) if (e.fullUrl && e.resource?.id) map.set(e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`);
    const rewrite = (v) => {
      if (Array.isArray(v)) return v.map(rewrite);
      if (v && typeof v === 'object') {
        const out = {};
        for (const [k, x] of Object.entries(v)) out[k] = k === 'reference' && map.has(x) ? map.get(x) : rewrite(x);
        return out;
      }
      return v;
    };
    for (const e of entries) {
      const r = rewrite(e.resource);
      const res = await fetch(`${base}/${r.resourceType}/${r.id}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify(r),
      });
      if (!res.ok) throw new Error(`PUT ${r.resourceType}/${r.id}: HTTP ${res.status} ${await res.text()}`);
      if (r.resourceType === 'Patient') patients.push(r.id);
    }
  }
  console.log(patients.join(' '));
}

async function prefetch(discoveryFile, base, token, patientId) {
  const discovery = JSON.parse(readFileSync(discoveryFile, 'utf8'));
  const templates = discovery.services[0].prefetch;
  const out = {};
  for (const [key, template] of Object.entries(templates)) {
    let url = `${base}/${template.replaceAll('{{context.patientId}}', patientId)}`;
    let result;
    // Every page: an EHR prefetching a search follows its next links.
    while (url) {
      const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+json' } });
      const body = await res.json();
      if (res.status === 404) {
        result = null;
        break;
      }
      if (!result) result = body;
      else result.entry = [...(result.entry ?? []), ...(body.entry ?? [])];
      url = body.resourceType === 'Bundle' ? body.link?.find((l) => l.relation === 'next')?.url : undefined;
    }
    if (result?.link) delete result.link;
    out[key] = result;
  }
  console.log(JSON.stringify(out));
}

function cards(file) {
  const answer = JSON.parse(readFileSync(file, 'utf8'));
  return (answer.cards ?? []).map((c) => {
    const { uuid, links, ...rest } = c;
    return JSON.stringify({ ...rest, links: (links ?? []).filter((l) => !l.url.includes('/view/')) });
  });
}

function compare(a, b) {
  const x = cards(a);
  const y = cards(b);
  if (x.length === 0 || JSON.stringify(x) !== JSON.stringify(y)) {
    console.error(`cards differ:\n${x.join('\n')}\n---\n${y.join('\n')}`);
    process.exit(1);
  }
  console.log(`${x.length} card(s), the same`);
}

try {
  if (cmd === 'load') await load(args[0], args.slice(1));
  else if (cmd === 'prefetch') await prefetch(args[0], args[1], args[2], args[3]);
  else if (cmd === 'compare') compare(args[0], args[1]);
  else {
    console.error('usage: node tool.mjs load|prefetch|compare ...');
    process.exit(2);
  }
} catch (e) {
  console.error(String(e));
  process.exit(1);
}
