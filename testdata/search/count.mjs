// count.mjs computes, independently of the server's search engine, how many
// resources of the Synthea-120 sample each query of queries.json matches,
// and writes expected.json. No network; Node >= 20; bzcat on the PATH.
//
//	node testdata/search/count.mjs [synthea-dir]   (default ../shared/data/synthea-120 beside the checkout)
//	node testdata/search/count.mjs --subset small [synthea-dir]
//
// With --subset NAME it counts over a subset of the Bundles instead and
// writes expected-NAME.json (see subsets below): the subset's Bundle file
// names are recorded there, so the test loading it needs no other
// description. A query naming by placeholder a resource absent from the
// subset is recorded as {"skip": reason}; the queries' "min" counts (meant
// for the full sample) are not checked.
//
// It reads the bzip2 Bundles with bzcat, applies the 0-*Information* batch
// Bundles' conditional creates (ifNoneExist: a second match creates
// nothing), resolves urn:uuid: references inside each Bundle and the
// conditional references (Practitioner/Organization/Location?identifier=…)
// against the resources loaded, and then evaluates every query with its own
// matcher: the search parameters used are written out below by hand from
// their R4 FHIRPath expressions, and the comparison rules from the R4 search
// specification (§3.1.1.4). It shares no code with the Go server.
//
// Server-assigned ids cannot be known in advance: a query names a resource
// by a placeholder {Type?identifier=system|value}, which this script
// resolves in the data and the Go test through a search; both then use the
// resolved id (the script the Bundle's own id, the test the server's).
//
// Rules assumed where FHIR leaves a choice (they are the server's documented
// ones, fhir/search/query/normalize.go, re-implemented here):
//   - a date without a time zone is UTC; a value covers the range its
//     precision implies (a day, a second, a millisecond…);
//   - ap on a date: the search range widened on each side by 10% of the
//     distance between now and the start of the search range, at least one
//     day; a target matches when its range overlaps the widened one. Since
//     the width depends on now, the script also evaluates every ap query one
//     year later and fails when the count would differ (the query would not
//     be stable over time);
//   - ap on a number/quantity: the search value's precision range widened to
//     ±10% of the value;
//   - gt/lt/ge/le on a number or quantity compare the target's value with
//     the search value (gt100: value > 100), eq/ne use the search value's
//     precision range (100 → [99.5, 100.5]); the script also computes the
//     count under the range reading of the spec (target precision range vs
//     search range) and reports when the two readings differ;
//   - string: default is "starts with" on text lower-cased with accents
//     removed, :contains a substring of it, :exact equality as written;
//     a HumanName matches on any of family, given, prefix, suffix, text.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

// subsets: name → how many patient Bundles, the smallest by entry count (ties
// by file name), beside the two 0-*Information* batch Bundles, which every
// subset holds pruned to the entries the patient Bundles reference by
// conditional reference (Type?identifier=…): a server scanning for every
// search (FerretDB) must hold few resources. The kept entries are recorded
// as "Type?identifier=…" in subset.shared of the output.
const subsets = {
  small: { patients: 3 },
};

let subsetName = '';
const positional = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--subset') subsetName = process.argv[++i] || '';
  else if (a.startsWith('--subset=')) subsetName = a.slice('--subset='.length);
  else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
  else positional.push(a);
}
if (subsetName !== '' && !subsets[subsetName]) throw new Error(`unknown subset ${JSON.stringify(subsetName)}: want one of ${Object.keys(subsets).join(', ')}`);
const dataDir = positional[0] || join(here, '..', '..', '..', 'shared', 'data', 'synthea-120');
const outName = subsetName ? `expected-${subsetName}.json` : 'expected.json';

// ---------------------------------------------------------------- loading

/** @type {Map<string, object>} key "Type/id" → resource (ids as in the Bundles) */
const byKey = new Map();
/** identifier index: "Type|system|value" → key */
const byIdent = new Map();

/** readBundle decompresses and parses one Bundle file of dataDir. */
const readBundle = (f) => JSON.parse(execFileSync('bzcat', [join(dataDir, f)], { maxBuffer: 1 << 30 }));

/** isInfo reports whether f is one of the 0-*Information* batch Bundles. */
const isInfo = (f) => f.startsWith('0-') && f.includes('Information');

/**
 * bundleFiles lists the Bundle files to load, in load order: the
 * 0-*Information* ones first, then by name; with a subset, only the
 * 0-*Information* ones and the subset's smallest patient Bundles.
 */
function bundleFiles() {
  const files = readdirSync(dataDir).filter((f) => f.endsWith('.json.bz2'));
  if (files.length === 0) throw new Error(`no *.json.bz2 in ${dataDir}`);
  files.sort((a, b) => (isInfo(a) !== isInfo(b) ? (isInfo(a) ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0));
  if (!subsetName) return files;
  const sizes = files.filter((f) => !isInfo(f)).map((f) => [f, readBundle(f).entry.length]);
  sizes.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const keep = new Set(sizes.slice(0, subsets[subsetName].patients).map(([f]) => f));
  const chosen = files.filter((f) => isInfo(f) || keep.has(f));
  for (const f of chosen) {
    if (isInfo(f)) continue;
    walkRefs(readBundle(f), (ref) => {
      if (/^[A-Za-z]+\?identifier=/.test(ref.reference)) sharedKeep.add(ref.reference);
    });
  }
  return chosen;
}

/** sharedKeep: with a subset, the "Type?identifier=…" of the 0-*Information* entries kept. */
const sharedKeep = new Set();

function loadAll(files) {
  const pending = []; // resources whose references wait for every Bundle
  for (const f of files) {
    const bundle = readBundle(f);
    const local = new Map(); // fullUrl → key
    for (const e of bundle.entry) {
      const r = e.resource;
      if (e.request.method !== 'POST') throw new Error(`${f}: ${e.request.method} entry`);
      if (subsetName && isInfo(f) && !sharedKeep.has(`${r.resourceType}?${e.request.ifNoneExist}`)) continue;
      if (e.request.ifNoneExist) {
        const [name, val] = e.request.ifNoneExist.split('=');
        if (name !== 'identifier') throw new Error(`${f}: ifNoneExist ${e.request.ifNoneExist}`);
        const hit = byIdent.get(`${r.resourceType}|${val}`);
        if (hit) {
          local.set(e.fullUrl, hit);
          continue;
        }
      }
      const key = `${r.resourceType}/${r.id}`;
      if (byKey.has(key)) throw new Error(`duplicate ${key}`);
      byKey.set(key, r);
      local.set(e.fullUrl, key);
      for (const id of r.identifier || []) byIdent.set(`${r.resourceType}|${id.system}|${id.value}`, key);
      pending.push([r, local]);
    }
  }
  for (const [r, local] of pending) {
    walkRefs(r, (ref) => {
      const s = ref.reference;
      if (s.startsWith('urn:uuid:')) {
        const k = local.get(s);
        if (!k) throw new Error(`unresolved ${s}`);
        ref._key = k;
      } else if (s.includes('?')) {
        const [typ, q] = s.split('?');
        const [name, val] = q.split('=');
        const k = name === 'identifier' && byIdent.get(`${typ}|${val}`);
        if (!k) throw new Error(`unresolved ${s}`);
        ref._key = k;
      } else if (/^[A-Za-z]+\/[^/]+$/.test(s)) {
        ref._key = s;
      } else if (s.startsWith('#')) {
        ref._key = null; // contained
      } else {
        throw new Error(`reference ${s}`);
      }
    });
  }
}

/** walkRefs calls fn on every Reference (object with a string "reference") in v. */
function walkRefs(v, fn) {
  if (Array.isArray(v)) {
    for (const x of v) walkRefs(x, fn);
  } else if (v && typeof v === 'object') {
    if (typeof v.reference === 'string') fn(v);
    for (const [k, x] of Object.entries(v)) if (k !== 'contained') walkRefs(x, fn);
  }
}

const typeCache = new Map();
/** ofType lists the resources of type t. */
function ofType(t) {
  if (!typeCache.has(t)) typeCache.set(t, [...byKey.entries()].filter(([k]) => k.startsWith(t + '/')).map(([, r]) => r));
  return typeCache.get(t);
}
const keyOf = (r) => `${r.resourceType}/${r.id}`;

// ---------------------------------------------------------------- values

const arr = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** tokens of a CodeableConcept, Coding or code (system: the code's implicit system). */
function tokens(v, system = undefined) {
  const out = [];
  for (const x of arr(v)) {
    if (typeof x === 'string' || typeof x === 'boolean') out.push({ system, code: String(x) });
    else if (x.coding) for (const c of x.coding) out.push({ system: c.system, code: c.code });
    else if (x.code !== undefined || x.system !== undefined) out.push({ system: x.system, code: x.code });
  }
  return out;
}

/** identifiers: the tokens of Identifier values (system|value). */
const identifiers = (v) => arr(v).map((x) => ({ system: x.system, code: x.value }));

const MIN = -Infinity;
const MAX = Infinity;

/** dateRange parses a FHIR date/dateTime/instant into [low, high] µs since epoch, inclusive. */
function dateRange(s) {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(s);
  if (!m) throw new Error(`bad date ${s}`);
  const [, Y, M, D, h, mi, sec, frac, tz] = m;
  let off = 0;
  if (tz && tz !== 'Z') off = (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
  const y = Number(Y);
  const mo = M ? Number(M) - 1 : 0;
  const d = D ? Number(D) : 1;
  const base = (yy, mm, dd, hh = 0, mn = 0, ss = 0) => Date.UTC(yy, mm, dd, hh, mn - off, ss) * 1000;
  let lo;
  let hi;
  if (!M) {
    lo = base(y, 0, 1);
    hi = base(y + 1, 0, 1);
  } else if (!D) {
    lo = base(y, mo, 1);
    hi = base(y, mo + 1, 1);
  } else if (!h) {
    lo = base(y, mo, d);
    hi = base(y, mo, d + 1);
  } else if (!sec) {
    lo = base(y, mo, d, Number(h), Number(mi));
    hi = lo + 60e6;
  } else {
    lo = base(y, mo, d, Number(h), Number(mi), Number(sec));
    if (frac) {
      const digits = Math.min(frac.length, 6);
      lo += Number(frac.slice(0, digits).padEnd(6, '0'));
      hi = lo + 10 ** (6 - digits);
    } else {
      hi = lo + 1e6;
    }
  }
  return { lo, hi: hi - 1 };
}

/** dates of a date/dateTime/instant or Period value. */
function dates(...vs) {
  const out = [];
  for (const v of vs) {
    for (const x of arr(v)) {
      if (typeof x === 'string') out.push(dateRange(x));
      else if (x.start !== undefined || x.end !== undefined) {
        out.push({ lo: x.start ? dateRange(x.start).lo : MIN, hi: x.end ? dateRange(x.end).hi : MAX });
      }
    }
  }
  return out;
}

/** numberRange: the value and the range its precision implies. */
function numberRange(s) {
  const m = /^([+-]?)(\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) throw new Error(`bad number ${s}`);
  const v = Number(s);
  const exp = m[4] ? Number(m[4]) : 0;
  const nFrac = m[3] ? m[3].length : 0;
  const half = 0.5 * 10 ** (exp - nFrac);
  return { v, lo: v - half, hi: v + half };
}

/** quantities of Quantity values; the stored value's precision is taken from its JSON number. */
function quantities(v) {
  return arr(v)
    .filter((q) => typeof q.value === 'number')
    .map((q) => ({ ...numberRange(String(q.value)), system: q.system, code: q.code, unit: q.unit }));
}

/** norm is the form string searches compare: lower case, accents removed. */
const norm = (s) => s.normalize('NFKD').replace(/\p{Mn}/gu, '').toLowerCase();

function humanNames(v) {
  const out = [];
  for (const n of arr(v)) {
    if (n.family) out.push(n.family);
    for (const k of ['given', 'prefix', 'suffix']) out.push(...arr(n[k]));
    if (n.text) out.push(n.text);
  }
  return out;
}

function addresses(v) {
  const out = [];
  for (const a of arr(v)) {
    out.push(...arr(a.line));
    for (const k of ['city', 'district', 'state', 'postalCode', 'country', 'text']) if (a[k]) out.push(a[k]);
  }
  return out;
}

/** refs of Reference values: their resolved keys. */
const refs = (...vs) => vs.flatMap(arr).map((x) => x._key).filter(Boolean);
const only = (t) => (keys) => keys.filter((k) => k.startsWith(t + '/'));

// ------------------------------------------------- search parameters (R4)

const S = 'string';
const T = 'token';
const R = 'reference';
const D = 'date';
const Q = 'quantity';
const C = 'composite';

const ADMIN_GENDER = 'http://hl7.org/fhir/administrative-gender';

// Each: [type, extractor]. Extractors follow the R4 expressions.
const clinicalPatient = (r) => only('Patient')(refs(r.subject ?? r.patient));
const params = {
  Patient: {
    gender: [T, (r) => tokens(r.gender, ADMIN_GENDER)],
    birthdate: [D, (r) => dates(r.birthDate)],
    name: [S, (r) => humanNames(r.name)],
    family: [S, (r) => arr(r.name).map((n) => n.family).filter(Boolean)],
    given: [S, (r) => arr(r.name).flatMap((n) => arr(n.given))],
    'address-city': [S, (r) => arr(r.address).map((a) => a.city).filter(Boolean)],
    address: [S, (r) => addresses(r.address)],
    identifier: [T, (r) => identifiers(r.identifier)],
    'general-practitioner': [R, (r) => refs(r.generalPractitioner)],
    organization: [R, (r) => refs(r.managingOrganization)],
    deceased: [T, (r) => tokens(r.deceasedDateTime !== undefined || r.deceasedBoolean === true ? 'true' : 'false')],
    language: [T, (r) => arr(r.communication).flatMap((c) => tokens(c.language))],
  },
  Observation: {
    code: [T, (r) => tokens(r.code)],
    category: [T, (r) => tokens(r.category)],
    status: [T, (r) => tokens(r.status, 'http://hl7.org/fhir/observation-status')],
    date: [D, (r) => dates(r.effectiveDateTime, r.effectivePeriod, r.effectiveInstant)],
    patient: [R, clinicalPatient],
    subject: [R, (r) => refs(r.subject)],
    encounter: [R, (r) => refs(r.encounter)],
    performer: [R, (r) => refs(r.performer)],
    'value-quantity': [Q, (r) => quantities(r.valueQuantity)],
    'value-concept': [T, (r) => tokens(r.valueCodeableConcept)],
    'value-string': [S, (r) => arr(r.valueString)],
    'component-code': [T, (r) => arr(r.component).flatMap((c) => tokens(c.code))],
    'combo-code': [T, (r) => [...tokens(r.code), ...arr(r.component).flatMap((c) => tokens(c.code))]],
    'code-value-quantity': [C, (r) => [{ code: tokens(r.code), 'value-quantity': quantities(r.valueQuantity) }]],
    'component-code-value-quantity': [
      C,
      (r) => arr(r.component).map((c) => ({ 'component-code': tokens(c.code), 'component-value-quantity': quantities(c.valueQuantity) })),
    ],
  },
  Encounter: {
    date: [D, (r) => dates(r.period)],
    type: [T, (r) => tokens(r.type)],
    class: [T, (r) => tokens(r.class)],
    status: [T, (r) => tokens(r.status, 'http://hl7.org/fhir/encounter-status')],
    patient: [R, clinicalPatient],
    subject: [R, (r) => refs(r.subject)],
    'service-provider': [R, (r) => refs(r.serviceProvider)],
    participant: [R, (r) => arr(r.participant).flatMap((p) => refs(p.individual))],
    'reason-code': [T, (r) => tokens(r.reasonCode)],
  },
  Condition: {
    code: [T, (r) => tokens(r.code)],
    'onset-date': [D, (r) => dates(r.onsetDateTime, r.onsetPeriod)],
    'abatement-date': [D, (r) => dates(r.abatementDateTime, r.abatementPeriod)],
    'recorded-date': [D, (r) => dates(r.recordedDate)],
    'clinical-status': [T, (r) => tokens(r.clinicalStatus)],
    category: [T, (r) => tokens(r.category)],
    patient: [R, clinicalPatient],
    encounter: [R, (r) => refs(r.encounter)],
  },
  Procedure: {
    code: [T, (r) => tokens(r.code)],
    date: [D, (r) => dates(r.performedDateTime, r.performedPeriod)],
    patient: [R, clinicalPatient],
    status: [T, (r) => tokens(r.status, 'http://hl7.org/fhir/event-status')],
    'reason-reference': [R, (r) => refs(r.reasonReference)],
  },
  MedicationRequest: {
    code: [T, (r) => tokens(r.medicationCodeableConcept)],
    authoredon: [D, (r) => dates(r.authoredOn)],
    status: [T, (r) => tokens(r.status, 'http://hl7.org/fhir/CodeSystem/medicationrequest-status')],
    intent: [T, (r) => tokens(r.intent, 'http://hl7.org/fhir/CodeSystem/medicationrequest-intent')],
    patient: [R, clinicalPatient],
    requester: [R, (r) => refs(r.requester)],
    medication: [R, (r) => refs(r.medicationReference)],
    encounter: [R, (r) => refs(r.encounter)],
  },
  Immunization: {
    'vaccine-code': [T, (r) => tokens(r.vaccineCode)],
    date: [D, (r) => dates(r.occurrenceDateTime)],
    patient: [R, (r) => refs(r.patient)],
    status: [T, (r) => tokens(r.status, 'http://hl7.org/fhir/event-status')],
    location: [R, (r) => refs(r.location)],
  },
  DiagnosticReport: {
    code: [T, (r) => tokens(r.code)],
    category: [T, (r) => tokens(r.category)],
    date: [D, (r) => dates(r.effectiveDateTime, r.effectivePeriod)],
    patient: [R, clinicalPatient],
    result: [R, (r) => refs(r.result)],
  },
  Practitioner: {
    identifier: [T, (r) => identifiers(r.identifier)],
    name: [S, (r) => humanNames(r.name)],
  },
  Organization: {
    identifier: [T, (r) => identifiers(r.identifier)],
    name: [S, (r) => arr(r.name).concat(arr(r.alias))],
  },
  Location: {
    identifier: [T, (r) => identifiers(r.identifier)],
  },
};
// parameters of every resource type
const common = {
  _id: [T, (r) => [{ system: undefined, code: r.id }]],
};

// The composite components' types.
const componentType = { code: T, 'value-quantity': Q, 'component-code': T, 'component-value-quantity': Q };

function paramDef(type, name) {
  const p = common[name] || params[type]?.[name];
  if (!p) throw new Error(`no parameter ${type}.${name} in count.mjs`);
  return p;
}

// ------------------------------------------------------------ matching

let NOW = Date.now() * 1000; // µs; changed to test the stability of ap
let numberReading = 'value'; // or 'range': see the header

function splitEsc(s, sep) {
  const out = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) {
      cur += s[i] + s[i + 1];
      i++;
    } else if (s[i] === sep) {
      out.push(cur);
      cur = '';
    } else cur += s[i];
  }
  out.push(cur);
  return out;
}
const unesc = (s) => s.replace(/\\([,|$\\])/g, '$1');

const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];
function prefixed(s) {
  if (/^[a-z]{2}/.test(s)) {
    if (!PREFIXES.includes(s.slice(0, 2))) throw new Error(`prefix ${s}`);
    return [s.slice(0, 2), s.slice(2)];
  }
  return ['eq', s];
}

/** cmp applies prefix p to the search range q and the target range v (R4 §3.1.1.4). */
function cmp(p, q, v) {
  const within = v.lo >= q.lo && v.hi <= q.hi;
  switch (p) {
    case 'eq':
      return within;
    case 'ne':
      return !within;
    case 'gt':
      return v.hi > q.hi;
    case 'lt':
      return v.lo < q.lo;
    case 'ge':
      return v.hi > q.hi || within;
    case 'le':
      return v.lo < q.lo || within;
    case 'sa':
      return v.lo > q.hi;
    case 'eb':
      return v.hi < q.lo;
    case 'ap':
      return v.lo <= q.hi && v.hi >= q.lo;
  }
  throw new Error(p);
}

function dateMatch(raw, v) {
  const [p, s] = prefixed(raw);
  let q = dateRange(unesc(s));
  if (p === 'ap') {
    const d = Math.max(Math.floor(Math.abs(NOW - q.lo) / 10), 86400e6);
    q = { lo: q.lo - d, hi: q.hi + d };
  }
  return cmp(p, q, v);
}

function quantityMatch(raw, v) {
  const [p, rest] = prefixed(raw);
  const parts = splitEsc(rest, '|');
  const n = numberRange(unesc(parts[0]));
  if (parts.length === 3) {
    const sys = unesc(parts[1]);
    const unit = unesc(parts[2]);
    if (sys !== '' && v.system !== sys) return false;
    if (sys !== '' && unit !== '' && v.code !== unit) return false;
    if (sys === '' && unit !== '' && v.code !== unit && v.unit !== unit) return false;
  }
  if (p === 'ap') {
    const d = Math.abs(n.v) * 0.1;
    return v.v >= Math.min(n.lo, n.v - d) && v.v <= Math.max(n.hi, n.v + d);
  }
  if (numberReading === 'range') return cmp(p, n, v);
  switch (p) {
    case 'eq':
      return v.v >= n.lo && v.v <= n.hi;
    case 'ne':
      return !(v.v >= n.lo && v.v <= n.hi);
    case 'gt':
      return v.v > n.v;
    case 'lt':
      return v.v < n.v;
    case 'ge':
      return v.v >= n.v;
    case 'le':
      return v.v <= n.v;
    case 'sa':
      return v.lo > n.hi;
    case 'eb':
      return v.hi < n.lo;
  }
  throw new Error(p);
}

function tokenMatch(raw, v) {
  const parts = splitEsc(raw, '|');
  if (parts.length === 1) return v.code === unesc(raw);
  const sys = unesc(parts[0]);
  const code = unesc(parts.slice(1).join('|'));
  if (sys === '') return v.system === undefined && v.code === code;
  return v.system === sys && (code === '' || v.code === code);
}

function stringMatch(mod, raw, v) {
  const s = unesc(raw);
  if (mod === 'exact') return v === s;
  if (mod === 'contains') return norm(v).includes(norm(s));
  return norm(v).startsWith(norm(s));
}

function refMatch(targets, raw, key) {
  const s = unesc(raw);
  if (s.includes('/')) return key === s;
  const [t, id] = key.split('/');
  return id === s && (targets.length === 0 || targets.includes(t));
}

/** valuesOf returns the values of parameter name on resource r. */
const valuesOf = (r, name) => paramDef(r.resourceType, name)[1](r);

/**
 * matches reports whether resource r matches "key=value" (one occurrence:
 * its comma-separated values are OR'ed).
 */
function matches(r, key, value) {
  if (key.startsWith('_has:')) {
    const [, typ, refParam, ...rest] = key.split(':');
    const inner = rest.join(':');
    const k = keyOf(r);
    return hasIndex(typ, refParam, inner, value).has(k);
  }
  const dot = key.indexOf('.');
  const head = dot < 0 ? key : key.slice(0, dot);
  let [name, mod = ''] = head.split(':');
  const [type, extract] = paramDef(r.resourceType, name);
  const vals = extract(r);
  if (dot >= 0) {
    // chain: some referenced resource (of the modifier's type) matches the rest
    const tail = key.slice(dot + 1);
    return vals.some((k) => (!mod || k.startsWith(mod + '/')) && byKey.has(k) && matches(byKey.get(k), tail, value));
  }
  if (mod === 'missing') return (vals.length === 0) === (value === 'true');
  const ors = splitEsc(value, ',').filter((x) => x !== '');
  if (name === '_id') return ors.some((x) => r.id === unesc(x)) !== (mod === 'not');
  switch (type) {
    case T:
      if (mod === 'not') return !vals.some((v) => ors.some((x) => tokenMatch(x, v)));
      if (mod) throw new Error(`token modifier ${mod}`);
      return vals.some((v) => ors.some((x) => tokenMatch(x, v)));
    case S:
      return vals.some((v) => ors.some((x) => stringMatch(mod, x, v)));
    case D:
      if (mod) throw new Error(`date modifier ${mod}`);
      return vals.some((v) => ors.some((x) => dateMatch(x, v)));
    case Q:
      return vals.some((v) => ors.some((x) => quantityMatch(x, v)));
    case R: {
      const targets = mod ? [mod] : [];
      return vals.some((v) => ors.some((x) => refMatch(targets, x, v)));
    }
    case C:
      // one element must match every component of one OR'ed value
      return vals.some((el) =>
        ors.some((x) => {
          const comps = splitEsc(x, '$');
          const names = Object.keys(el);
          if (comps.length !== names.length) throw new Error(`composite ${key}=${x}`);
          return names.every((n, i) => {
            const t = componentType[n];
            return el[n].some((v) => (t === T ? tokenMatch(comps[i], v) : quantityMatch(comps[i], v)));
          });
        }),
      );
  }
  throw new Error(`cannot match ${key}`);
}

const hasCache = new Map();
/** hasIndex: keys referenced through refParam by resources of typ matching inner=value. */
function hasIndex(typ, refParam, inner, value) {
  const ck = [typ, refParam, inner, value].join('\0');
  if (!hasCache.has(ck)) {
    const set = new Set();
    for (const o of ofType(typ)) if (matches(o, inner, value)) for (const k of valuesOf(o, refParam)) set.add(k);
    hasCache.set(ck, set);
  }
  return hasCache.get(ck);
}

// search-result parameters, not filters
const RESULT = new Set(['_count', '_sort', '_include', '_revinclude', '_summary', '_total', '_elements']);

/** run evaluates a query "Type?params" and returns {total, included}. */
function run(query) {
  const [type, qs] = query.split('?');
  const pairs = (qs || '').split('&').filter(Boolean).map((p) => {
    const i = p.indexOf('=');
    return [decodeURIComponent(p.slice(0, i)), decodeURIComponent(p.slice(i + 1))];
  });
  let lastUpdated = [];
  const filters = [];
  const incs = [];
  for (const [k, v] of pairs) {
    if (k === '_lastUpdated') lastUpdated.push(v);
    else if (k === '_include' || k === '_revinclude') incs.push([k, v]);
    else if (!RESULT.has(k)) filters.push([k, v]);
  }
  let rs = ofType(type).filter((r) => filters.every(([k, v]) => matches(r, k, v)));
  // every resource is loaded at test time, after any date the queries use:
  // _lastUpdated compares with "now" (the load), a point in time
  for (const v of lastUpdated) {
    const t = { lo: NOW, hi: NOW };
    rs = rs.filter(() => splitEsc(v, ',').some((x) => dateMatch(x, t)));
  }
  const out = { total: rs.length };
  if (incs.length) {
    const matched = new Set(rs.map(keyOf));
    const inc = new Set();
    for (const [k, v] of incs) {
      const [t, p, target] = v.split(':');
      if (k === '_include') {
        for (const r of rs) if (r.resourceType === t) for (const key of valuesOf(r, p)) if ((!target || key.startsWith(target + '/')) && byKey.has(key) && !matched.has(key)) inc.add(key);
      } else {
        for (const o of ofType(t)) for (const key of valuesOf(o, p)) if (matched.has(key) && !matched.has(keyOf(o))) inc.add(keyOf(o));
      }
    }
    out.included = inc.size;
  }
  return out;
}

/** missingPlaceholder names the first placeholder of q with no resource loaded, or ''. */
function missingPlaceholder(q) {
  for (const [m, t, ident] of q.matchAll(/\{([A-Za-z]+)\?identifier=([^}]*)\}/g)) if (!byIdent.get(`${t}|${ident}`)) return m;
  return '';
}

/** resolvePlaceholders replaces {Type?identifier=system|value} by the id found. */
function resolvePlaceholders(q) {
  return q.replace(/\{([A-Za-z]+)\?identifier=([^}]*)\}/g, (_, t, ident) => {
    const k = byIdent.get(`${t}|${ident}`);
    if (!k) throw new Error(`placeholder ${t}?identifier=${ident}: no such resource`);
    return k.split('/')[1];
  });
}

// ---------------------------------------------------------------- main

const files = bundleFiles();
loadAll(files);
const spec = JSON.parse(readFileSync(join(here, 'queries.json'), 'utf8'));
const expected = {};
let problems = 0;
for (const item of spec.queries) {
  if (expected[item.query]) throw new Error(`duplicate query ${item.query}`);
  const absent = subsetName ? missingPlaceholder(item.query) : '';
  if (absent) {
    expected[item.query] = { skip: `${absent} is not in subset ${subsetName}` };
    console.log('  skip        ', item.query.length > 150 ? item.query.slice(0, 150) + '…' : item.query);
    continue;
  }
  const q = resolvePlaceholders(item.query);
  NOW = Date.now() * 1000;
  numberReading = 'value';
  const res = run(q);
  if (/=ap|[,=]ap/.test(q)) {
    NOW += 365 * 86400e6;
    const later = run(q);
    NOW = Date.now() * 1000;
    if (later.total !== res.total) {
      console.error(`UNSTABLE ap: ${item.query}: ${res.total} now, ${later.total} in a year`);
      problems++;
    }
  }
  if (/quantity=/.test(q)) {
    numberReading = 'range';
    const alt = run(q);
    numberReading = 'value';
    if (alt.total !== res.total) {
      console.error(`NOTE ${item.query}: ${res.total} comparing values, ${alt.total} comparing precision ranges`);
      res.rangeReading = alt.total;
    }
  }
  if (!subsetName && item.min !== undefined && res.total < item.min) {
    console.error(`TOO FEW: ${item.query}: ${res.total} < ${item.min}`);
    problems++;
  }
  expected[item.query] = res;
  console.log(String(res.total).padStart(6), res.included !== undefined ? `+${res.included}`.padStart(7) : '       ', item.query.length > 150 ? item.query.slice(0, 150) + '…' : item.query);
}
const types = {};
for (const k of byKey.keys()) {
  const t = k.split('/')[0];
  types[t] = (types[t] || 0) + 1;
}
// a subset's file records the Bundles it was counted over, for the test to load
const doc = subsetName ? { subset: { name: subsetName, bundles: files, shared: [...sharedKeep].sort() }, resources: types, queries: expected } : { resources: types, queries: expected };
writeFileSync(join(here, outName), JSON.stringify(doc, null, 1) + '\n');
console.log(`${spec.queries.length} queries; wrote ${outName}`);
if (problems) process.exit(1);
