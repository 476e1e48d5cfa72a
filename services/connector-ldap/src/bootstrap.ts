import { defineService } from '@provisio/platform';
import { AppModule } from './app.module.js';
import { loadConnectorLdapConfig } from './config.js';

export const { bootstrap, main } = defineService({
  service: 'connector-ldap',
  loadConfig: loadConnectorLdapConfig,
  module: (config, logger) => AppModule.forRoot(config, logger),
  openapi: { title: 'Provisio connector-ldap', description: 'OpenLDAP and Active Directory accounts and groups' },
});
