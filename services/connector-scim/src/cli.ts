import { reconcileCli } from '@provisio/connector-kit';

// `node services/connector-scim/dist/cli.js reconcile <target> [--mode report|correct]`
process.exitCode = await reconcileCli(process.argv.slice(2), 8084, {
  env: process.env,
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
});
