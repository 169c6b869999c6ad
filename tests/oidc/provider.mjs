// A local OpenID Connect provider for tests/test_login_browser.py: panva's oidc-provider (pinned in
// package.json), with its built-in login and consent pages (devInteractions). It listens on 127.0.0.1 only.
//
// Environment: OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI (the app's /oauth2callback),
// OIDC_POST_LOGOUT_URI (where the provider's sign-out page returns to). Prints "listening <issuer>" when ready.
// Any login name is accepted (the dev login form); its claims are <name>@example.test and the name itself.
import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const port = Number(env('OIDC_PORT'));
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env('OIDC_CLIENT_ID'),
      client_secret: env('OIDC_CLIENT_SECRET'),
      redirect_uris: [env('OIDC_REDIRECT_URI')],
      post_logout_redirect_uris: [env('OIDC_POST_LOGOUT_URI')],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Put the scope's claims in the ID token, which is where Streamlit's st.user reads them.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: `${sub}@example.test`, email_verified: true, name: sub };
      },
    };
  },
  cookies: { keys: ['test-only-cookie-key-not-a-secret'] },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
