// A real OpenID provider (node-oidc-provider) for the single sign-on tests.
//
// Configured from the environment by tests/oidc/provider.py:
//   OIDC_TEST_PORT      port on 127.0.0.1 (the issuer is http://127.0.0.1:<port>)
//   OIDC_TEST_CLIENTS   JSON list of clients (client_id, client_secret, redirect_uris)
//   OIDC_TEST_ACCOUNTS  path of a JSON file {login: {preferred_username, email, groups}},
//                       read at every sign-in so a test can change someone's groups
//
// Sign-in uses the package's own development interactions (a login form taking any
// password); consent is given once per account and client, as for first-party clients.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_TEST_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_TEST_CLIENTS);
const accountsFile = process.env.OIDC_TEST_ACCOUNTS;

function accounts() {
  return JSON.parse(readFileSync(accountsFile, 'utf8'));
}

const configuration = {
  clients: clients.map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        // Re-read: the groups are those at the time the token is issued.
        const current = accounts()[id] || account;
        return {
          sub: id,
          preferred_username: current.preferred_username,
          name: current.name || current.preferred_username,
          email: current.email,
          email_verified: true,
          groups: current.groups || [],
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  // The claims of the granted scopes go into the ID token itself, not only the userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['controlplane-tests-only-cookie-key'] },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  // First-party clients: consent is implied, so a sign-in is only the login form.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const existing = await ctx.oidc.provider.Grant.find(grantId);
      if (existing) return existing;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups');
    grant.addOIDCClaims(['preferred_username', 'name', 'email', 'email_verified', 'groups']);
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
