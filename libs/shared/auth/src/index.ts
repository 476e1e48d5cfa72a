export { AuthGuard, JWT_VERIFIER } from './auth.guard.js';
export { AuthModule } from './auth.module.js';
export { authEnv, authSettingsFromEnv, refineAuth } from './auth-env.js';
export { CurrentPrincipal, REQUIRED_SCOPES, RequireScopes, Scopes } from './decorators.js';
export { AuthError, AuthErrorCode, JwtVerifier, scopesOf, type AuthSettings, type Principal } from './jwt-verifier.js';
