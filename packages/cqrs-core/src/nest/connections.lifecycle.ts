import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { credentialsRemoved } from '../connections/connection-target';
import { type ManagedConnection } from '../connections/managed-connection.port';
import { SERVICE_OPTIONS } from './service.tokens';
import { type ServiceOptions } from './service.options';

/**
 * How long a start-up step waits before its next try (a connection, the stores' init): from
 * 500 ms, doubling to 5 s.
 */
export function startupRetryDelayMs(attempt: number): number {
  return Math.min(5_000, 250 * 2 ** Math.min(attempt, 6));
}

/** ` to <address>` for a log line, credentials removed by the connection. */
function at(connection: ManagedConnection): string {
  return connection.target ? ` to ${connection.target}` : '';
}

/**
 * Opens the service's connections at start-up and closes them at shutdown. A server that is
 * down at start-up does not stop the service: it keeps trying with backoff while
 * /health/ready answers 503, so containers may start in any order.
 */
@Injectable()
export class ConnectionsLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Connections');
  private stopped = false;
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(@Inject(SERVICE_OPTIONS) private readonly options: ServiceOptions) {}

  async onModuleInit(): Promise<void> {
    await Promise.all(
      (this.options.connections ?? []).map((connection) => this.open(connection, 1)),
    );
  }

  /** Retries back off from 500 ms to 5 s. */
  private async open(connection: ManagedConnection, attempt: number): Promise<void> {
    try {
      await connection.open();
      this.logger.log(`${connection.name} connected${at(connection)}`);
    } catch (error) {
      if (this.stopped) return;
      const delay = startupRetryDelayMs(attempt);
      // A driver's error may quote its connection string, user and password included.
      const reason = credentialsRemoved((error as Error)?.message ?? String(error));
      this.logger.warn(
        `${connection.name}${at(connection)} unreachable (${reason}); retrying in ${delay} ms`,
      );
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        void this.open(connection, attempt + 1);
      }, delay);
      this.pending.add(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of this.pending) clearTimeout(timer);
    await Promise.allSettled(
      (this.options.connections ?? []).map((connection) => connection.close()),
    );
  }
}
