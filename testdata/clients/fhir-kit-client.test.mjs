// Drives a running dccfhir server with fhir-kit-client (the npm FHIR client):
// create, read, vread, update, delete (then read → 410), instance and type
// history, search and a transaction Bundle.
//
//   DCC_FHIR_BASE=http://127.0.0.1:8080/fhir [DCC_FHIR_TOKEN=…] node fhir-kit-client.test.mjs
//
// Exits 0 when every step passed, 1 with a message naming the failing step
// otherwise. handlers/clients_test.go runs it against an in-process server.
import { Client } from 'fhir-kit-client';

const baseUrl = process.env.DCC_FHIR_BASE;
if (!baseUrl) {
  console.error('fhir-kit-client test: set DCC_FHIR_BASE to the FHIR base URL (e.g. http://127.0.0.1:8080/fhir)');
  process.exit(2);
}

const client = new Client({ baseUrl });
// DCC_FHIR_TOKEN: a bearer token (a SMART Backend Services token) for a
// server with protection on.
if (process.env.DCC_FHIR_TOKEN) client.bearerToken = process.env.DCC_FHIR_TOKEN;
let step = '(start)';
let passed = 0;

class Failure extends Error {}

function check(cond, msg, detail) {
  if (!cond) {
    throw new Failure(`${msg}${detail === undefined ? '' : `\n  got: ${JSON.stringify(detail)}`}`);
  }
}

function equal(got, want, what) {
  check(got === want, `${what}: want ${JSON.stringify(want)}`, got);
}

// statusOf runs a call expected to fail and returns the HTTP status the
// client's error carries.
async function statusOf(fn) {
  try {
    const res = await fn();
    return { ok: true, res };
  } catch (err) {
    if (err instanceof Failure) throw err;
    if (!err.response) throw err; // network or client-side error
    return { ok: false, status: err.response.status, data: err.response.data };
  }
}

async function run(name, fn) {
  step = name;
  await fn();
  passed++;
  console.log(`ok   ${name}`);
}

const marker = `fkc-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
const system = 'urn:oid:1.2.250.1.213.1.4.8';
let id;

await main().catch((err) => {
  console.error(`FAIL ${step}: ${err instanceof Failure ? err.message : err.stack || err}`);
  if (err.cause) {
    console.error(`  cause: ${err.cause.message || err.cause}`);
  }
  if (err.response) {
    console.error(`  HTTP ${err.response.status}: ${JSON.stringify(err.response.data)}`);
  }
  process.exit(1);
});

async function main() {
  await run('capabilityStatement', async () => {
    const cs = await client.capabilityStatement();
    equal(cs.resourceType, 'CapabilityStatement', 'metadata resourceType');
    equal(cs.fhirVersion, '4.0.1', 'fhirVersion');
  });

  await run('create', async () => {
    const created = await client.create({
      resourceType: 'Patient',
      body: {
        resourceType: 'Patient',
        identifier: [{ system, value: marker }],
        name: [{ family: 'Durand', given: ['Hélène'] }],
        gender: 'female',
        birthDate: '1970-03-04',
      },
    });
    equal(created.resourceType, 'Patient', 'created resourceType');
    check(typeof created.id === 'string' && created.id !== '', 'created resource has no id', created);
    equal(created.meta?.versionId, '1', 'created meta.versionId');
    id = created.id;
    const res = created.__response;
    equal(res.status, 201, 'create HTTP status');
    const loc = res.headers.get('location') || '';
    check(loc.startsWith(`${baseUrl}/Patient/${id}/_history/1`), `Location ${loc} is not ${baseUrl}/Patient/${id}/_history/1`);
  });

  await run('read', async () => {
    const p = await client.read({ resourceType: 'Patient', id });
    equal(p.id, id, 'read id');
    equal(p.name?.[0]?.family, 'Durand', 'read name.family');
    equal(p.name?.[0]?.given?.[0], 'Hélène', 'read name.given (UTF-8)');
    equal(p.__response.headers.get('etag'), 'W/"1"', 'read ETag');
  });

  await run('update', async () => {
    const p = await client.read({ resourceType: 'Patient', id });
    p.name[0].family = 'Durand-Martin';
    const updated = await client.update({ resourceType: 'Patient', id, body: p });
    equal(updated.meta?.versionId, '2', 'updated meta.versionId');
    equal(updated.name?.[0]?.family, 'Durand-Martin', 'updated name.family');
    equal(updated.__response.status, 200, 'update HTTP status');
  });

  await run('vread', async () => {
    const v1 = await client.vread({ resourceType: 'Patient', id, version: '1' });
    equal(v1.meta?.versionId, '1', 'vread 1 meta.versionId');
    equal(v1.name?.[0]?.family, 'Durand', 'vread 1 name.family');
    const v2 = await client.vread({ resourceType: 'Patient', id, version: '2' });
    equal(v2.name?.[0]?.family, 'Durand-Martin', 'vread 2 name.family');
    const missing = await statusOf(() => client.vread({ resourceType: 'Patient', id, version: '99' }));
    check(!missing.ok, 'vread of a version that does not exist succeeded', missing.res);
    equal(missing.status, 404, 'vread of a missing version status');
  });

  await run('search', async () => {
    const b = await client.search({ resourceType: 'Patient', searchParams: { identifier: `${system}|${marker}` } });
    equal(b.resourceType, 'Bundle', 'search resourceType');
    equal(b.type, 'searchset', 'search Bundle.type');
    const matches = (b.entry || []).filter((e) => e.search?.mode === 'match');
    equal(matches.length, 1, 'search matches');
    equal(matches[0].resource.id, id, 'search match id');
    if (b.total !== undefined) equal(b.total, 1, 'search total');
    const byName = await client.search({ resourceType: 'Patient', searchParams: { family: 'Durand-Martin', identifier: `${system}|${marker}` } });
    equal((byName.entry || []).filter((e) => e.search?.mode === 'match').length, 1, 'search by family and identifier');
    const none = await client.search({ resourceType: 'Patient', searchParams: { family: 'Durand-Martin', identifier: `${system}|${marker}-none` } });
    equal((none.entry || []).filter((e) => e.search?.mode === 'match').length, 0, 'search with no match');
  });

  await run('history (instance)', async () => {
    const h = await client.history({ resourceType: 'Patient', id });
    equal(h.type, 'history', 'instance history Bundle.type');
    const versions = (h.entry || []).map((e) => e.resource?.meta?.versionId);
    check(JSON.stringify(versions) === '["2","1"]', 'instance history: want versions 2, 1 (newest first)', versions);
    equal(h.entry[0].request?.method, 'PUT', 'history entry 0 request.method');
    equal(h.entry[1].request?.method, 'POST', 'history entry 1 request.method');
  });

  await run('history (type)', async () => {
    const h = await client.history({ resourceType: 'Patient' });
    equal(h.type, 'history', 'type history Bundle.type');
    const mine = (h.entry || []).filter((e) => e.resource?.id === id).map((e) => e.resource.meta.versionId);
    check(mine.includes('1') && mine.includes('2'), 'type history lacks the two versions of the patient', mine);
  });

  await run('transaction', async () => {
    const pat = 'urn:uuid:7f1c3d2e-8a41-4e8b-9d1e-0c5b6a7f8e90';
    const tx = await client.transaction({
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:0b9e2f7a-1c3d-4e5f-8a9b-1c2d3e4f5a6b',
            resource: {
              resourceType: 'Observation',
              status: 'final',
              code: { text: 'EGFR exon 19 deletion' },
              subject: { reference: pat },
            },
            request: { method: 'POST', url: 'Observation' },
          },
          {
            fullUrl: pat,
            resource: { resourceType: 'Patient', identifier: [{ system, value: `${marker}-tx` }], name: [{ family: 'Petit' }] },
            request: { method: 'POST', url: 'Patient' },
          },
          {
            request: { method: 'GET', url: `Patient?identifier=${encodeURIComponent(`${system}|${marker}`)}` },
          },
        ],
      },
    });
    equal(tx.resourceType, 'Bundle', 'transaction response resourceType');
    equal(tx.type, 'transaction-response', 'transaction response Bundle.type');
    equal(tx.entry?.length, 3, 'transaction response entries');
    const statuses = tx.entry.map((e) => e.response?.status || '');
    check(statuses[0].startsWith('201') && statuses[1].startsWith('201') && statuses[2].startsWith('200'), 'transaction entry statuses: want 201, 201, 200', statuses);
    const patLoc = tx.entry[1].response.location || '';
    const obsLoc = tx.entry[0].response.location || '';
    const patId = patLoc.split('/_history')[0].split('Patient/')[1];
    const obsId = obsLoc.split('/_history')[0].split('Observation/')[1];
    check(patId && obsId, 'transaction response locations lack ids', [patLoc, obsLoc]);
    const obs = await client.read({ resourceType: 'Observation', id: obsId });
    equal(obs.subject?.reference, `Patient/${patId}`, 'the urn:uuid reference was not resolved');
  });

  await run('delete', async () => {
    const del = await statusOf(() => client.delete({ resourceType: 'Patient', id }));
    check(del.ok, `delete failed with HTTP ${del.status}`, del.data);
    const st = del.res.__response.status;
    check(st === 200 || st === 204, 'delete HTTP status: want 200 or 204', st);
  });

  await run('read after delete → 410', async () => {
    const r = await statusOf(() => client.read({ resourceType: 'Patient', id }));
    check(!r.ok, 'reading a deleted resource succeeded', r.res);
    equal(r.status, 410, 'read of a deleted resource status');
    equal(r.data?.resourceType, 'OperationOutcome', '410 body resourceType');
    const h = await client.history({ resourceType: 'Patient', id });
    equal(h.entry?.length, 3, 'instance history after delete: entries');
    equal(h.entry[0].request?.method, 'DELETE', 'newest history entry request.method');
    const gone = await client.search({ resourceType: 'Patient', searchParams: { identifier: `${system}|${marker}` } });
    equal((gone.entry || []).filter((e) => e.search?.mode === 'match').length, 0, 'search matches a deleted resource');
  });

  console.log(`fhir-kit-client: all ${passed} steps passed against ${baseUrl}`);
}
