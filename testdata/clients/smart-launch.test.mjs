// Drives dccfhir's authorization server with fhirclient, the SMART App
// Launch JavaScript library, in Node (its server-side adapter): an EHR
// launch and a standalone launch, each from authorize to FHIR calls with
// the token. There is no browser: the login, patient-picker and consent
// pages (auth/templates) are driven over HTTP as a browser would submit
// them (cookies kept, forms read from the HTML).
//
//   DCC_FHIR_BASE=http://127.0.0.1:8080/fhir DCC_CLIENT_ID=app \
//   DCC_REDIRECT_URI=http://127.0.0.1:9/callback DCC_USERNAME=u DCC_PASSWORD=p \
//   DCC_LAUNCH=<id from POST /auth/launch> DCC_PATIENT=<patient id> \
//   DCC_PATIENT_NAME=<a name the picker finds the patient by> \
//   [DCC_PRACTITIONER=<the user's Practitioner id>] \
//   [DCC_OTHER_PATIENT=<a patient the EHR launch's token must not read>] \
//   node smart-launch.test.mjs
//
// The app must be registered with DCC_REDIRECT_URI and the scopes both
// launches ask: "launch openid fhirUser patient/*.rs" (EHR) and
// "launch/patient openid fhirUser patient/*.rs user/Patient.rs"
// (standalone: the picker searches with the user/ scope, and the server
// refuses launch/patient without one that reads Patient).
//
// Exits 0 when both launches passed, 1 naming the failing step (and the
// pages seen on the way) otherwise. handlers/smart_clients_test.go runs it
// against an in-process server.
import smart from 'fhirclient/lib/entry/node.js';

const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.error(`smart-launch test: set ${k}`);
    process.exit(2);
  }
  return v;
};
const iss = env('DCC_FHIR_BASE');
const clientId = env('DCC_CLIENT_ID');
const redirectUri = env('DCC_REDIRECT_URI');
const username = env('DCC_USERNAME');
const password = env('DCC_PASSWORD');
const launch = env('DCC_LAUNCH');
const patient = env('DCC_PATIENT');
const patientName = env('DCC_PATIENT_NAME');
const practitioner = process.env.DCC_PRACTITIONER || '';
const otherPatient = process.env.DCC_OTHER_PATIENT || '';

let step = '(start)';
class Failure extends Error {}
const check = (cond, msg, detail) => {
  if (!cond) throw new Failure(`${msg}${detail === undefined ? '' : `\n  got: ${typeof detail === 'string' ? detail.slice(0, 1500) : JSON.stringify(detail)}`}`);
};

// pageText is what a page says, without markup: the server's pages are
// short, and their error paragraphs say what went wrong.
function pageText(html) {
  const alert = html.match(/<p class="error"[^>]*>([\s\S]*?)<\/p>/i);
  const body = (html.match(/<main>([\s\S]*?)<\/main>/i) || [, html])[1];
  const text = body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return alert ? `error shown: ${alert[1].trim()} | page: ${text}` : text;
}

// The app's session: what fhirclient keeps between authorize and ready.
function memoryStorage() {
  const m = new Map();
  return {
    async get(k) { return m.get(k); },
    async set(k, v) { m.set(k, v); return v; },
    async unset(k) { return m.delete(k); },
  };
}

// The app's own HTTP exchange, as the Node adapter sees it.
function appRequest(path) {
  return { url: path, method: 'GET', headers: { host: new URL(redirectUri).host }, connection: {}, socket: {} };
}
function appResponse() {
  const r = { statusCode: 0, headers: {} };
  r.writeHead = (status, headers) => { r.statusCode = status; Object.assign(r.headers, headers || {}); };
  r.setHeader = (k, v) => { r.headers[k] = v; };
  r.end = () => {};
  return r;
}

// A browser: follows nothing by itself, keeps cookies per host.
class Browser {
  constructor() { this.cookies = new Map(); }
  cookieHeader(url) {
    const jar = this.cookies.get(new URL(url).host) || new Map();
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  keep(url, res) {
    const host = new URL(url).host;
    const jar = this.cookies.get(host) || new Map();
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    this.cookies.set(host, jar);
  }
  async fetch(url, init = {}) {
    const headers = { ...(init.headers || {}) };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.keep(url, res);
    return res;
  }
}

// forms lists the forms of a page: action, method and the inputs' values
// (hidden, text, password, and buttons with a name).
function forms(html, base) {
  const out = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = m[1];
    const action = (attrs.match(/action="([^"]*)"/i) || [, ''])[1].replaceAll('&amp;', '&');
    const method = (attrs.match(/method="([^"]*)"/i) || [, 'get'])[1].toLowerCase();
    const inputs = [];
    for (const t of m[2].matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const a = t[2];
      const name = (a.match(/name="([^"]*)"/i) || [])[1];
      if (!name) continue;
      const value = ((a.match(/value="([^"]*)"/i) || [, ''])[1]).replaceAll('&amp;', '&').replaceAll('&#34;', '"').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');
      const type = ((a.match(/type="([^"]*)"/i) || [, t[1] === 'button' ? 'submit' : 'text'])[1]).toLowerCase();
      inputs.push({ name, value, type });
    }
    out.push({ action: new URL(action || base, base).href, method, inputs });
  }
  return out;
}

// submit posts a form with the given values over its hidden ones; a submit
// button is included only when named in values.
async function submit(browser, form, values) {
  const body = new URLSearchParams();
  for (const i of form.inputs) {
    if (i.type === 'submit' || i.type === 'radio' || i.type === 'checkbox') continue;
    if (!(i.name in values)) body.append(i.name, i.value);
  }
  for (const [k, v] of Object.entries(values)) body.append(k, v);
  return browser.fetch(form.action, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
}

// logIn goes from the authorize URL to the app's redirect URI, through the
// login page, the patient picker when there is one (a search by name, then
// the patient's "Choisir" button) and the consent page; it returns the
// redirect URI the server sent the browser to (with code and state, or an
// error). pages lists the pages seen, for the failure messages.
async function logIn(authorizeURL, pages) {
  const browser = new Browser();
  let res = await browser.fetch(authorizeURL);
  let url = authorizeURL;
  let searched = false;
  for (let hops = 0; hops < 12; hops++) {
    if (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get('location'), url).href;
      if (loc.startsWith(redirectUri)) return loc;
      url = loc;
      res = await browser.fetch(url);
      continue;
    }
    const html = await res.text();
    check(res.status === 200, `page ${url} (after ${pages.join(', ') || 'authorize'}): want 200, got ${res.status}`, pageText(html));
    const fs = forms(html, url);
    const has = (f, name, value) => f.inputs.some((i) => i.name === name && (value === undefined || i.value === value));
    const login = fs.find((f) => has(f, 'username') && has(f, 'password'));
    const choose = fs.find((f) => has(f, 'patient', patient));
    const search = fs.find((f) => has(f, 'name') && has(f, 'identifier'));
    const consent = fs.find((f) => has(f, 'decision', 'allow'));
    if (login) {
      check(!pages.includes('login'), 'the login page came back after logging in (wrong username or password?)', pageText(html));
      pages.push('login');
      res = await submit(browser, login, { username, password });
    } else if (choose) {
      pages.push('picker: choose');
      res = await submit(browser, choose, { patient });
    } else if (search) {
      const shown = fs.flatMap((f) => f.inputs.filter((i) => i.name === 'patient').map((i) => i.value));
      check(!searched, `the patient picker's search for "${patientName}" did not list patient ${patient} (listed: ${JSON.stringify(shown)})`, pageText(html));
      searched = true;
      pages.push('picker: search');
      res = await submit(browser, search, { name: patientName, action: 'search' });
    } else if (consent) {
      pages.push('consent');
      res = await submit(browser, consent, { decision: 'allow' });
    } else {
      check(false, `page ${url} (after ${pages.join(', ') || 'authorize'}): neither a login, a patient picker nor a consent form`, pageText(html));
    }
    url = res.url || url;
  }
  check(false, `too many pages before the redirect to the app: ${pages.join(', ')}`);
}

// launchApp runs one launch: fhirclient's authorize (from the app's
// launch URL with launchParams), the pages, fhirclient's ready (the code
// exchanged for tokens), then FHIR calls with the token. want lists the
// pages the launch must pass through.
async function launchApp(name, launchParams, scope, want, extra) {
  step = name;
  const storage = memoryStorage();
  const res1 = appResponse();
  const q = new URLSearchParams({ iss, ...launchParams });
  await smart(appRequest(`/launch?${q}`), res1, storage).authorize({
    clientId, scope, redirectUri, pkceMode: 'required',
  });
  const authorizeURL = res1.headers.Location || res1.headers.location;
  check(res1.statusCode === 302 && authorizeURL, 'fhirclient did not redirect to authorize (is the smart-configuration served?)', res1);
  step = `${name} / authorize`;
  const pages = [];
  const back = await logIn(authorizeURL, pages);
  const cb = new URL(back);
  check(!cb.searchParams.get('error'), `the authorization server sent the app an error after ${pages.join(', ') || 'authorize'}`,
    `${cb.searchParams.get('error')}: ${cb.searchParams.get('error_description')}`);
  check(JSON.stringify(pages) === JSON.stringify(want), `pages passed through: want ${want.join(', ')}`, pages);
  step = `${name} / token`;
  const client = await smart(appRequest(cb.pathname + cb.search), appResponse(), storage).ready();
  const tr = client.state.tokenResponse;
  check(tr.access_token, 'no access token', Object.keys(tr));
  check(client.patient.id === patient, `token response patient: want ${patient}`, client.patient.id);
  check(tr.need_patient_banner === true, 'token response need_patient_banner: want true', tr.need_patient_banner);
  check(typeof tr.scope === 'string' && scope.split(' ').every((s) => tr.scope.split(' ').includes(s)), `granted scope: want all of "${scope}"`, tr.scope);
  const user = client.getFhirUser();
  const wantUser = `Practitioner/${practitioner}`;
  check(user && (practitioner ? user.endsWith(wantUser) : user.includes(wantUser)), `fhirUser from the id_token: want …/${wantUser}${practitioner ? '' : '…'}`, user);
  step = `${name} / read`;
  const p = await client.patient.read();
  check(p.resourceType === 'Patient' && p.id === patient, 'the patient read with the token', p);
  step = `${name} / search`;
  const bundle = await client.request(`Patient?_id=${patient}`);
  const ids = (bundle.entry || []).map((e) => e.resource?.id);
  check(bundle.resourceType === 'Bundle' && ids.includes(patient), `search Patient?_id=${patient} with the token`, ids);
  if (extra) await extra(client);
  console.log(`ok   ${name} (${pages.join(', ')})`);
}

// confined checks an EHR launch's token (patient/ scopes only) sees the
// launch patient alone.
async function confined(client) {
  step = 'EHR launch / confinement';
  const all = await client.request('Patient');
  const ids = (all.entry || []).filter((e) => e.search?.mode !== 'outcome').map((e) => e.resource?.id);
  check(JSON.stringify(ids) === JSON.stringify([patient]), `GET Patient with a patient/ token: want only ${patient}`, ids);
  if (!otherPatient) return;
  let status;
  try {
    await client.request(`Patient/${otherPatient}`);
  } catch (err) {
    status = err.status || err.statusCode;
  }
  check(status === 403 || status === 404, `reading another patient (${otherPatient}) with the launch patient's token: want 403 or 404`, status ?? 'read succeeded');
  console.log(`     another patient read with the EHR launch's token: HTTP ${status}`);
}

try {
  await launchApp('EHR launch', { launch }, 'launch openid fhirUser patient/*.rs', ['login', 'consent'], confined);
  await launchApp('standalone launch', {}, 'launch/patient openid fhirUser patient/*.rs user/Patient.rs',
    ['login', 'picker: search', 'picker: choose', 'consent']);
  console.log('2 launches passed');
} catch (err) {
  console.error(`FAIL ${step}: ${err instanceof Failure ? err.message : err.stack || err}`);
  process.exit(1);
}
