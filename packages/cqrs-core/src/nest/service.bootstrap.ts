import 'reflect-metadata';
import { type INestApplication, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { type z } from 'zod';
import { ConfigurationError } from '../config/configuration.error';
import { loadConfiguration } from '../config/configuration.loader';

export interface ServiceBootstrap<S extends z.ZodType> {
  service: string;
  configuration: S;
  /** Builds the root module from the validated configuration. */
  module: (config: z.output<S>) => DynamicModule;
  /**
   * App-level setup that no module can do (body parsers, OpenAPI UI), run after the app is
   * created and before it listens.
   */
  setup?: (app: INestApplication, config: z.output<S>) => void | Promise<void>;
  /** Where to listen, from the configuration. */
  listen: (config: z.output<S>) => { port: number; host: string };
  /** How long graceful shutdown may take before the process exits anyway. Default 10 s. */
  shutdownTimeoutMs?: (config: z.output<S>) => number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a Causeway service: validates the configuration first (a bad setting ends the process
 * with exit code 1 and a JSON log line naming it), then creates the Nest app with JSON logging
 * and shutdown hooks, and listens.
 */
export async function bootstrapService<S extends z.ZodType>(
  spec: ServiceBootstrap<S>,
): Promise<INestApplication> {
  let config: z.output<S>;
  try {
    config = loadConfiguration(spec.configuration, spec.env);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(
        `${JSON.stringify({ level: 'fatal', time: Date.now(), service: spec.service, msg: error.message, issues: error.issues })}\n`,
      );
      process.exit(1);
    }
    throw error;
  }
  const app = await NestFactory.create(spec.module(config), { bufferLogs: true });
  const logger = app.get(Logger);
  app.useLogger(logger);
  await spec.setup?.(app, config);
  const { port, host } = spec.listen(config);
  await app.listen(port, host);
  logger.log(`${spec.service} listening on http://${host}:${port}`);
  stopOnSignals(app, logger, spec.shutdownTimeoutMs?.(config) ?? 10_000);
  return app;
}

/**
 * SIGTERM / SIGINT close the app (Nest shutdown hooks run: consumers stop, connections close)
 * and exit 0. If closing takes longer than the timeout the process exits 1 instead of hanging.
 */
function stopOnSignals(app: INestApplication, logger: Logger, timeoutMs: number): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received; shutting down`);
    const timer = setTimeout(() => {
      logger.error(`shutdown did not finish within ${timeoutMs} ms; exiting`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
