// An OpenID provider for arshjul's tests: npm's `oidc-provider` (the certified Node.js
// implementation) on http://127.0.0.1:PORT, standing in for Entra ID.
//
// Usage: node oidc_provider.mjs PORT GATEWAY_SECRET
//
// - Clients register themselves (RFC 7591, POST /reg): each test registers its own, with its
//   own redirect URI and secret, so tests do not share state.
// - Sign-in (authorization code, PKCE) through the provider's development login form: the
//   login typed is the account, `NAME@DOMAIN` or `NAME@DOMAIN#OID`; its ID token carries
//   `email`, and `oid` when given, as Entra's does. No consent prompt.
// - Client credentials, as Exchange Online's app-only tokens: a client registered with
//   `mailbox` gets access tokens that open that mailbox (the token's `mailbox` claim, which
//   the mail servers check by introspection); `token_ttl` (seconds) sets their lifetime.
// - The client `mail-gateway` (secret GATEWAY_SECRET) is the mail servers': it introspects.
// - POST /test/revoke?client_id=ID revokes every access token issued to that client so far, as
//   an administrator does when a secret leaks: the mail servers then refuse them.
// - A client registered with `tamper_id_token = true` gets ID tokens whose payload was changed
//   after signing (the email is another person's), so a relying party must refuse them.
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const gatewaySecret = process.argv[3];
const issuer = `http://127.0.0.1:${port}`;
// Client id → the values of the client-credentials tokens issued to it.
const issued = new Map();

function account(login) {
  const [email, oid] = login.split('#');
  return {
    accountId: login,
    async claims() {
      return { sub: login, email, email_verified: true, name: email, ...(oid ? { oid } : {}) };
    },
  };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'mail-gateway',
      client_secret: gatewaySecret,
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  scopes: ['openid', 'email', 'profile', 'mail'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'oid'] },
  // The scope's claims in the ID token itself, as Entra puts them.
  conformIdTokenClaims: false,
  extraClientMetadata: {
    properties: ['mailbox', 'token_ttl', 'tamper_id_token'],
  },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: {
    ClientCredentials: (ctx, token, client) => client.token_ttl || 600,
  },
  async extraTokenClaims(ctx, token) {
    const client = ctx.oidc.client;
    if (token.kind === 'ClientCredentials') {
      issued.set(client.clientId, [...(issued.get(client.clientId) ?? []), token.jti]);
      return client.mailbox ? { mailbox: client.mailbox } : undefined;
    }
    return undefined;
  },
  async findAccount(ctx, sub) {
    return account(sub);
  },
  // No consent prompt: the organisation's administrator consented for everyone.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  cookies: { keys: [gatewaySecret] },
  pkce: { required: () => true },
});

provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/test/revoke') {
    for (const value of issued.get(ctx.query.client_id) ?? []) {
      await (await provider.ClientCredentials.find(value))?.destroy();
    }
    ctx.status = 204;
    return;
  }
  await next();
  const client = ctx.oidc?.client;
  if (ctx.path === '/token' && client?.tamper_id_token && ctx.body?.id_token) {
    const [head, payload, signature] = ctx.body.id_token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.email = 'someone.else@example.org';
    const forged = Buffer.from(JSON.stringify(claims)).toString('base64url');
    ctx.body = { ...ctx.body, id_token: [head, forged, signature].join('.') };
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log('ready');
});
