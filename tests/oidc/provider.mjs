// A real OpenID provider (panva's certified oidc-provider) for the tests.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG (written by tests/oidc_provider.py):
//   port                 where to listen, on 127.0.0.1 only; the issuer is http://127.0.0.1:PORT
//   clients              oidc-provider client metadata (client_id, client_secret, redirect_uris,
//                        post_logout_redirect_uris, token_endpoint_auth_method, ...)
//   accounts             {login name: {sub?, name?, email?, any other claim}}
//   id_token_ttl         seconds an ID token is valid (short for expiry tests)
//   claims_in_id_token   false: every claim but sub is at userinfo only, not in the ID token
//
// The sign-in pages are our own minimal ones rather than the provider's
// devInteractions: those pull a web font from the internet, and a browser under
// test must talk to nothing but loopback. The login name is typed, the password
// ignored, consent given without asking. Everything is logged to stderr.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const log = (...args) => console.error('[oidc]', ...args);

const configPath = process.argv[2];
if (!configPath) {
  log('usage: node tests/oidc/provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const { port, clients, accounts } = config;
const idTokenTtl = config.id_token_ttl ?? 3600;
const issuer = `http://127.0.0.1:${port}`;

// Which scope releases which claim: name with `profile`, email with `email`,
// and every other claim any account has (ratify_role, ratify_board, groups, ...)
// with `openid` itself, so a relying party gets them whatever else it asks for.
// The claims of `openid` are always in the ID token, so when they must be at
// userinfo only, the other claims go with `profile` instead.
const claimsInIdToken = config.claims_in_id_token !== false;
const STANDARD = new Set(['sub', 'name', 'email', 'email_verified']);
const extraClaims = new Set();
for (const account of Object.values(accounts)) {
  for (const claim of Object.keys(account)) if (!STANDARD.has(claim)) extraClaims.add(claim);
}
const scopeClaims = claimsInIdToken
  ? { openid: ['sub', ...extraClaims], profile: ['name'] }
  : { openid: ['sub'], profile: ['name', ...extraClaims] };

const escape = (value) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );

const page = (title, body) => `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} – test OpenID provider</title></head>
<body><main><h1>${escape(title)}</h1>
${body}
</main></body>
</html>`;

const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: randomBytes(8).toString('hex'),
  use: 'sig',
  alg: 'RS256',
};

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { ...scopeClaims, email: ['email', 'email_verified'] },
  // true is the spec's default (scope claims only at userinfo when an access
  // token is issued); false puts them in the ID token, where ratify reads them.
  conformIdTokenClaims: !claimsInIdToken,
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
  pkce: { methods: ['S256'], required: () => true },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // The confirmation page says yes by itself once its one button is pressed.
      async logoutSource(ctx, form) {
        const button = '<input type="hidden" name="logout" value="yes"/>'
          + '<button type="submit">Yes, sign me out</button></form>';
        ctx.body = page('Sign out', form.replace('</form>', button));
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
  },
  async renderError(ctx, out, error) {
    log('error page:', out.error, out.error_description ?? '', error?.stack ?? '');
    ctx.type = 'html';
    ctx.body = page('Error', `<p id="error">${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`);
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    DeviceCode: 600,
    BackchannelAuthenticationRequest: 600,
    IdToken: idTokenTtl,
    Interaction: 600,
    RefreshToken: 3600,
    Session: 3600,
    Grant: 3600,
  },
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error']) {
  provider.on(event, (_ctx, error) => log(event, error?.message, error?.error_description ?? ''));
}

function loginForm(uid, clientId, login, error) {
  const alert = error ? `<p id="login-error" role="alert">${escape(error)}</p>` : '';
  return page('Sign in', `<p>to ${escape(clientId)}</p>${alert}
<form method="post" action="/interaction/${escape(uid)}">
<p><label for="login">Login name</label>
<input id="login" name="login" autocomplete="username" required autofocus value="${escape(login)}"></p>
<p><label for="password">Password (ignored)</label>
<input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button type="submit" id="sign-in">Sign in</button></p>
</form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// Everyone who signs in consents to everything the client asks, at once.
async function consent(req, res, details) {
  const { prompt, grantId, session, params } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const result = { consent: { grantId: await grant.save() } };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (prompt.name === 'consent') return consent(req, res, details);
  if (prompt.name !== 'login') throw new Error(`prompt ${prompt.name} is not implemented`);
  let login = params.login_hint ?? '';
  let error = null;
  if (req.method === 'POST') {
    login = ((await readForm(req)).get('login') ?? '').trim();
    if (Object.hasOwn(accounts, login)) {
      const result = { login: { accountId: login } };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }
    error = `No account is called “${login}”.`;
  }
  res.statusCode = error ? 401 : 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', "default-src 'none'");
  res.end(loginForm(details.uid, params.client_id, login, error));
}

const handle = provider.callback();
const server = createServer((req, res) => {
  res.on('finish', () => log(req.method, req.url, res.statusCode));
  if (!req.url.startsWith('/interaction/')) return handle(req, res);
  interaction(req, res).catch((error) => {
    log('interaction failed:', error?.stack ?? error);
    if (res.headersSent) return res.end();
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page('Error', `<p id="error">${escape(error?.message ?? error)}</p>`));
  });
});
server.on('error', (error) => {
  log('cannot listen:', error.code ?? '', error.message);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => log(`listening on ${issuer}`));
process.on('SIGTERM', () => {
  log('stopping');
  process.exit(0);
});
