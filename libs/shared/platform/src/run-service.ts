import 'reflect-metadata';
import type { INestApplication, Type, DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { KafkaTransport } from '@provisio/messaging';
import { AppLogger, collectProcessMetrics, shutdownTelemetry, startTelemetry, type Logger } from '@provisio/observability';

export interface RunServiceOptions {
  service: string;
  module: Type | DynamicModule;
  logger: Logger;
  http: { port: number; host: string };
  /** OpenAPI title and description; the document is served at /docs and /docs/openapi.json. */
  openapi?: { title: string; description: string; bearerAuth?: boolean };
  /** Adjusts the app before init, e.g. body parsers for more media types or larger bodies. */
  configure?: (app: INestApplication) => void;
}

export interface RunningService {
  app: INestApplication;
  /** Base URL the HTTP API listens on. */
  url: string;
  close(): Promise<void>;
}

/**
 * The one way every service starts (main.ts and tests alike): telemetry first, buffered logs,
 * shutdown hooks, migrations during init, Kafka consumers only after init, then HTTP.
 */
export async function runService(options: RunServiceOptions): Promise<RunningService> {
  startTelemetry(options.service);
  collectProcessMetrics(options.service);
  const app = await NestFactory.create(options.module, { bufferLogs: true, rawBody: true, logger: new AppLogger(options.logger) });
  app.useLogger(app.get(AppLogger));
  // SIGTERM/SIGINT: drain (close consumers after their in-flight batch, leave the groups, flush
  // the outbox, close pools), then exit. Not Nest's shutdown hooks: they end by re-sending the
  // signal to the process, which a container's PID 1 ignores, leaving it to the kill timeout.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    options.logger.info({ signal }, `${options.service} shutting down`);
    app
      .close()
      .then(() => shutdownTelemetry())
      .then(
        () => process.exit(0),
        (e: unknown) => {
          options.logger.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  for (const signal of signals) process.on(signal, onSignal);
  const releaseSignals = () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  options.configure?.(app);
  if (options.openapi) {
    let builder = new DocumentBuilder().setTitle(options.openapi.title).setDescription(options.openapi.description).setVersion('1');
    if (options.openapi.bearerAuth) builder = builder.addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, builder.build()), { jsonDocumentUrl: 'docs/openapi.json' });
  }
  // Handlers carry their own error filter (see KafkaSubscribe); consumers start only after init.
  app.connectMicroservice({ strategy: app.get(KafkaTransport) }, { inheritAppConfig: false });
  try {
    await app.init();
    await app.startAllMicroservices();
    await app.listen(options.http.port, options.http.host);
  } catch (e) {
    // A start that fails half-way (e.g. an invalid policy file) releases what it opened:
    // connection pools, Kafka clients, background loops.
    releaseSignals();
    await app.close().catch((closeError: unknown) => options.logger.warn({ err: closeError }, 'closing after a failed start failed'));
    throw e;
  }
  const address = app.getHttpServer().address() as { port: number } | null;
  const url = `http://${options.http.host === '0.0.0.0' ? '127.0.0.1' : options.http.host}:${address?.port ?? options.http.port}`;
  options.logger.info({ url }, `${options.service} listening`);
  return {
    app,
    url,
    close: async () => {
      releaseSignals();
      await app.close();
    },
  };
}

/** For main.ts: exit non-zero with a readable message when start-up fails. */
export async function exitOnStartupFailure(logger: Logger, e: unknown): Promise<never> {
  logger.fatal({ err: e }, 'start-up failed');
  await shutdownTelemetry();
  process.exit(1);
}
