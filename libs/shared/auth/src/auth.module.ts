import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard, JWT_VERIFIER } from './auth.guard.js';
import { JwtVerifier, type AuthSettings } from './jwt-verifier.js';

@Global()
@Module({})
export class AuthModule {
  static forRoot(settings: AuthSettings): DynamicModule {
    return {
      module: AuthModule,
      providers: [{ provide: JWT_VERIFIER, useValue: new JwtVerifier(settings) }, { provide: APP_GUARD, useClass: AuthGuard }],
      exports: [JWT_VERIFIER],
    };
  }
}
