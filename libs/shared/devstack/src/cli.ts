import { ensureAuditKeys } from './audit-stack.js';
import { ALL_SCOPES, ensureDevKeys, mintDevToken } from './dev-auth.js';
import { startPlatform } from './launcher.js';
import { PrerequisiteError } from './process-utils.js';
import { stackDown, stackUp } from './stack.js';

const log = (l: string) => process.stderr.write(`[provisio] ${l}\n`);

async function main(argv: string[]): Promise<void> {
  const [cmd, sub, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return startPlatform();
    case 'stack':
      if (sub === 'up') {
        const s = await stackUp(log);
        process.stdout.write(`KAFKA_BROKERS=${s.kafkaBrokers.join(',')}\nDATABASE_URL=${s.databaseUrl}\n`);
        return;
      }
      if (sub === 'down') {
        const r = await stackDown();
        log(`stopped: ${[r.kafka && 'kafka', r.postgres && 'embedded postgres'].filter(Boolean).join(', ') || 'nothing was running'}`);
        return;
      }
      if (sub === 'status') {
        const { brokerAnswers } = await import('./kafka.js');
        const brokers = (process.env['KAFKA_BROKERS'] ?? `127.0.0.1:${process.env['PROVISIO_KAFKA_PORT'] ?? 19092}`).split(',');
        process.stdout.write(`kafka ${brokers.join(',')}: ${(await brokerAnswers(brokers)) ? 'up' : 'down'}\n`);
        return;
      }
      throw new Error(`usage: stack up|down|status`);
    case 'dev-keys': {
      // The development signing key pair (docker compose runs this once into a volume).
      const { publicKeyFile } = ensureDevKeys();
      process.stdout.write(`AUTH_PUBLIC_KEY_FILE=${publicKeyFile}\n`);
      // And audit's development keys (checkpoint signing, PII key-encryption).
      const audit = ensureAuditKeys();
      log(`audit keys: AUDIT_SIGNING_KEY_FILE=${audit.signingKeyFile} AUDIT_PII_KEY_FILE=${audit.piiKeyFile}`);
      return;
    }
    case 'token': {
      const scopes = sub ? [sub, ...rest].flatMap((s) => s.split(/[ ,]+/)).filter(Boolean) : ALL_SCOPES;
      process.stdout.write(`${await mintDevToken(scopes)}\n`);
      return;
    }
    default:
      throw new Error(`unknown command '${cmd ?? ''}' (start, stack up|down|status, token [scopes...], dev-keys)`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  log(e instanceof PrerequisiteError ? `missing prerequisite: ${e.message}` : `error: ${(e as Error).stack ?? String(e)}`);
  process.exit(e instanceof PrerequisiteError ? 2 : 1);
});
