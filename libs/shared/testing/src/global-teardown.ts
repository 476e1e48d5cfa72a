import { stopKafka } from '@provisio/devstack';

/** Stops only what global-setup started: a broker that was already running stays up. */
export default async function globalTeardown(): Promise<void> {
  const started = globalThis.__provisioStack;
  globalThis.__provisioStack = undefined;
  if (!started) return;
  if (started.kafka) await stopKafka();
  for (const c of started.containers ?? []) await c.stop();
}
