import { Injectable, Logger, type OnApplicationBootstrap, type Provider } from '@nestjs/common';
import { type ServerClock } from './server.clock';

/** How long an app's start waits for its ServerClock by default. */
export const SERVER_CLOCK_STARTUP_WAIT_MS = 5_000;

/**
 * Holds an app's start (after its connections opened: onApplicationBootstrap) until its
 * ServerClock is synchronised, at most `waitMs`; then says so if it is not. The app listens
 * either way: until the clock is synchronised its /health/ready names the clock, command-api
 * answers commands 503 and trainer-service defers them (ADR 007, session 30).
 */
@Injectable()
export class ServerClockStartup implements OnApplicationBootstrap {
  private readonly logger = new Logger('ServerClock');

  constructor(
    private readonly clock: ServerClock,
    private readonly waitMs: number,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (await this.clock.whenSynchronised(this.waitMs)) return;
    this.logger.warn(
      `the server's time (Redis TIME) has not been read within ${this.waitMs} ms of the start: ` +
        'not ready, and commands are refused or deferred until it is',
    );
  }
}

/** The provider of a ServerClockStartup: put it in the app module's `providers`. */
export function serverClockStartup(
  clock: ServerClock,
  waitMs = SERVER_CLOCK_STARTUP_WAIT_MS,
): Provider {
  return {
    provide: ServerClockStartup,
    useFactory: () => new ServerClockStartup(clock, waitMs),
  };
}
