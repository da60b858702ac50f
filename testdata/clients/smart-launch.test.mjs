// Drives dccfhir's authorization server with fhirclient, the SMART App
// Launch JavaScript library, in Node (its server-side adapter): an EHR
// launch and a standalone launch, each from authorize to a FHIR read with
// the token. There is no browser: the login, consent and patient-picker
// pages are driven over HTTP as a browser would submit them (cookies kept,
// forms read from the HTML).
//
//   DCC_FHIR_BASE=http://127.0.0.1:8080/fhir DCC_CLIENT_ID=app \
//   DCC_REDIRECT_URI=http://127.0.0.1:9/callback DCC_USERNAME=u DCC_PASSWORD=p \
//   DCC_LAUNCH=<id from POST /auth/launch> DCC_PATIENT=<patient id> \
//   node smart-launch.test.mjs
//
// Exits 0 when both launches passed, 1 naming the failing step otherwise.
// handlers/smart_clients_test.go runs it against an in-process server.
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

let step = '(start)';
class Failure extends Error {}
const check = (cond, msg, detail) => {
  if (!cond) throw new Failure(`${msg}${detail === undefined ? '' : `\n  got: ${typeof detail === 'string' ? detail.slice(0, 600) : JSON.stringify(detail)}`}`);
};

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
// login page, the patient picker when there is one and the consent page.
async function logIn(authorizeURL) {
  const browser = new Browser();
  let res = await browser.fetch(authorizeURL);
  let url = authorizeURL;
  for (let hops = 0; hops < 12; hops++) {
    if (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get('location'), url).href;
      if (loc.startsWith(redirectUri)) return loc;
      url = loc;
      res = await browser.fetch(url);
      continue;
    }
    const html = await res.text();
    check(res.status === 200, `page ${url}: want 200`, `${res.status} ${html}`);
    const fs = forms(html, url);
    const login = fs.find((f) => f.inputs.some((i) => i.name === 'password') && f.inputs.some((i) => i.name === 'username'));
    const consent = fs.find((f) => f.inputs.some((i) => i.name === 'decision' && i.value === 'allow'));
    const picker = fs.find((f) => f.inputs.some((i) => i.name === 'patient' && i.value === patient));
    if (login) {
      step = `${step} / login`;
      res = await submit(browser, login, { username, password });
    } else if (picker) {
      step = `${step} / patient picker`;
      res = await submit(browser, picker, { patient });
    } else if (consent) {
      step = `${step} / consent`;
      res = await submit(browser, consent, { decision: 'allow' });
    } else {
      check(false, `page ${url}: neither a login, a patient picker nor a consent form`, html);
    }
    url = res.url || url;
  }
  check(false, 'too many pages before the redirect to the app');
}

async function launchApp(name, launchParams, scope) {
  step = name;
  const storage = memoryStorage();
  const res1 = appResponse();
  const q = new URLSearchParams({ iss, ...launchParams });
  await smart(appRequest(`/launch?${q}`), res1, storage).authorize({
    clientId, scope, redirectUri, pkceMode: 'required',
  });
  const authorizeURL = res1.headers.Location || res1.headers.location;
  check(res1.statusCode === 302 && authorizeURL, 'fhirclient did not redirect to authorize', res1);
  const back = await logIn(authorizeURL);
  const cb = new URL(back);
  check(!cb.searchParams.get('error'), 'the authorization server answered an error', back);
  step = `${name} / token`;
  const client = await smart(appRequest(cb.pathname + cb.search), appResponse(), storage).ready();
  check(client.patient.id === patient, `token response patient: want ${patient}`, client.patient.id);
  check(client.state.tokenResponse.access_token, 'no access token', client.state.tokenResponse);
  step = `${name} / read`;
  const p = await client.patient.read();
  check(p.resourceType === 'Patient' && p.id === patient, 'patient read with the token', p);
  const user = client.getFhirUser();
  check(user && user.includes('Practitioner/'), 'fhirUser from the id_token', user);
  const bundle = await client.request(`Patient?_id=${patient}`);
  check(bundle.resourceType === 'Bundle' && bundle.total !== 0, 'search with the token', bundle);
  console.log(`ok   ${name}`);
}

try {
  await launchApp('EHR launch', { launch }, 'launch openid fhirUser patient/*.rs');
  await launchApp('standalone launch', {}, 'launch/patient openid fhirUser patient/*.rs');
  console.log('2 launches passed');
} catch (err) {
  console.error(`FAIL ${step}: ${err instanceof Failure ? err.message : err.stack || err}`);
  process.exit(1);
}
