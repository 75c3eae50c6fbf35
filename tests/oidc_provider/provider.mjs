// A real OpenID Connect provider for the tests: panva's certified `oidc-provider` (npm,
// devDependency), on loopback, with its own keys generated at start.
//
//   node tests/oidc_provider/provider.mjs CONFIG.json
//
// CONFIG.json: {"port": 0, "clients": [client metadata...], "accounts": {"<sub>": {claims}},
// "acr": "eidas1" or null, "scopes": {"<scope>": ["claim", ...]}, "tamper": {"<sub>": "payload"}}
// Prints one line "listening <port>" once the discovery document is served.
//
// The login page asks for an identifier (the `sub` of one of the accounts) and no password;
// consent is given automatically. Logout confirms with one button, as FranceConnect does.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

async function signingKey(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg, kid, use: 'sig' };
}

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>${escape(title)}</title>`
    + `<meta name="viewport" content="width=device-width, initial-scale=1"></head>`
    + `<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

const server = http.createServer();
server.listen(config.port || 0, '127.0.0.1', async () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const claims = { openid: ['sub'], ...(config.scopes || {}) };
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys: [await signingKey('RS256', 'rs-1'), await signingKey('ES256', 'es-1')] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims,
    acrValues: config.acr ? [config.acr] : [],
    features: {
      devInteractions: { enabled: false },
      jwtUserinfo: { enabled: true },
      // Userinfo encrypted to a client that registers its public key (`jwks`) and
      // `userinfo_encrypted_response_alg`/`_enc`: a JWE around the signed JWT.
      encryption: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = page('Déconnexion', `${form}<button form="op.logoutForm" type="submit" `
            + `name="logout" value="yes">Se déconnecter</button>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Déconnecté', '<p>Vous êtes déconnecté.</p>');
        },
      },
    },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const account = config.accounts[sub];
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...account }) };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Erreur', `<p id="error">${escape(out.error)}: ${escape(out.error_description || '')}</p>`);
    },
  });

  // `config.tamper`: {"<sub>": "payload"}: the ID token issued to that account leaves with its
  // payload altered after signing (its `sub` replaced), as an attacker in transit would do.
  function tamperIdToken(res) {
    const end = res.end.bind(res);
    res.end = (chunk, ...rest) => {
      if (!chunk) return end(chunk, ...rest);
      let body;
      try {
        body = JSON.parse(chunk.toString());
      } catch {
        return end(chunk, ...rest);
      }
      const parts = (body.id_token || '').split('.');
      if (parts.length !== 3) return end(chunk, ...rest);
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
      if (config.tamper[claims.sub] !== 'payload') return end(chunk, ...rest);
      claims.sub = 'someone-else';
      parts[1] = Buffer.from(JSON.stringify(claims)).toString('base64url');
      body.id_token = parts.join('.');
      const altered = JSON.stringify(body);
      if (!res.headersSent) res.setHeader('Content-Length', Buffer.byteLength(altered));
      return end(altered, ...rest);
    };
  }

  async function readForm(req) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  function loginForm(res, uid, error) {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page('Connexion au fournisseur d’identité', `${error ? `<p id="error">${escape(error)}</p>` : ''}`
      + `<form method="post" action="/interaction/${escape(uid)}/login">`
      + '<label for="login">Identifiant</label> <input id="login" name="login" autocomplete="off">'
      + ' <button type="submit">Valider</button></form>'));
  }

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (action === 'login' && req.method === 'POST') {
      const login = (await readForm(req)).get('login') || '';
      if (!config.accounts[login]) return loginForm(res, uid, 'Identifiant inconnu.');
      const result = { login: { accountId: login, ...(config.acr ? { acr: config.acr } : {}) } };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }
    if (details.prompt.name === 'login') return loginForm(res, uid);
    // Consent: granted at once for what the client asked.
    const { prompt: { details: missing }, params, session: { accountId } } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }

  const callback = provider.callback();
  server.on('request', (req, res) => {
    const { pathname } = new URL(req.url, issuer);
    if (pathname === '/token' && config.tamper) tamperIdToken(res);
    if (pathname === '/favicon.ico') { // browsers ask for it on every page
      res.statusCode = 204;
      return res.end();
    }
    const match = pathname.match(/^\/interaction\/([\w-]+)(?:\/(login))?$/);
    if (!match) return callback(req, res);
    return interaction(req, res, match[1], match[2]).catch((error) => {
      res.statusCode = 400;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(page('Erreur', `<p id="error">${escape(error.message)}</p>`));
    });
  });
  process.stdout.write(`listening ${port}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
