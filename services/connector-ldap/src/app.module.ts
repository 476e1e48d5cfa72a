import type { DynamicModule } from '@nestjs/common';
import { ConnectorModule } from '@provisio/connector-kit';
import type { Logger } from '@provisio/observability';
import { Database } from '@provisio/persistence';
import type { ConnectorLdapConfig } from './config.js';
import { LdapDirectoryConnector } from './ldap/ldap-directory.connector.js';
import { UidNumberAllocator } from './ldap/uid-allocator.js';
import { Init1764000000000 } from './migrations/1764000000000-init.js';
import { ConnectorKitV21765000000000 } from './migrations/1765000000000-connector-kit-v2.js';
import { ConnectorKitV31766000000000 } from './migrations/1766000000000-connector-kit-v3.js';
import { LdapUidNumbers1765000000001 } from './migrations/1765000000001-ldap-uid-numbers.js';

/** OpenLDAP and Active Directory accounts and groups, on the connector kit; one service may serve several directories. */
export const AppModule = {
  forRoot(config: ConnectorLdapConfig, logger: Logger): DynamicModule {
    return ConnectorModule.forConnector({
      kind: 'ldap',
      config,
      logger,
      migrations: [Init1764000000000, ConnectorKitV21765000000000, LdapUidNumbers1765000000001, ConnectorKitV31766000000000],
      targets: {
        inject: [Database],
        useFactory: (db: Database) =>
          config.CONNECTOR_TARGETS.map((t) => {
            const allocator = new UidNumberAllocator(db, config.DATABASE_SCHEMA, t.id, t.posix.uidNumber);
            const connector = new LdapDirectoryConnector(t, (isTaken) => allocator.allocate(isTaken));
            return { config: t, connector, planOptions: connector.planOptions(), namesCaseInsensitive: true };
          }),
      },
    });
  },
};
