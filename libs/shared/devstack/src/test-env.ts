/** What global-setup chose, passed to test workers through the environment. */
export const TestEnv = {
  kafkaBrokers: 'KAFKA_BROKERS',
  /** PostgreSQL server URL without a database; tests create their own databases. */
  postgresServer: 'PROVISIO_TEST_POSTGRES_SERVER',
  authPublicKey: 'PROVISIO_TEST_AUTH_PUBLIC_KEY',
  authPrivateKey: 'PROVISIO_TEST_AUTH_PRIVATE_KEY',
  stackSource: 'PROVISIO_TEST_STACK',
} as const;

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: integration tests run under the jest projects that have the stack global-setup`);
  return v;
}
