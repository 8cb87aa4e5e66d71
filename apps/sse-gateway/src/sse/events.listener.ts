import { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parse } from 'node:querystring';
import { putInFront } from '@causeway/platform';
import { type EventStreamOpener } from './event-stream.opener';

/**
 * GET /events as a plain node:http request listener, in front of Express, for the requests it
 * can serve: an acceptable request opens its stream without Express, Nest or pino-http ever
 * seeing it; anything else (a refusal, an unexpected error, another path) goes on to Express,
 * where `EventsController` checks it again and answers it as before.
 *
 * Why: Express re-parents every request and response (`Object.setPrototypeOf`), which gives each
 * response a hidden class of its own. Held open by the thousand, those responses made every
 * `res.write` of a broadcast megamorphic in node's http code (~8× slower than a bare server's
 * write loop) and cost ~2 KB of maps each, on top of pino-http's per-request child logger and
 * Express/Nest per-request closures — all alive as long as the stream. The gateway logs each
 * stream once itself (when it closes) instead of pino-http.
 */
export class EventsListener {
  constructor(
    private readonly opener: EventStreamOpener,
    private readonly path = '/events',
  ) {}

  /** Puts this listener in front of the server's current request listeners (Express). */
  install(server: Server): void {
    putInFront(server, (req, res, next) => this.handle(req, res, next));
  }

  handle(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'GET' || (q < 0 ? url : url.slice(0, q)) !== this.path) return next();
    // The query as Express 5 parses it ('simple': node:querystring); req itself is left untouched.
    const request = { headers: req.headers, query: q < 0 ? {} : parse(url.slice(q + 1)) };
    this.opener.check(request, req).then(
      (check) => {
        if (!check.ok) return next();
        // Refused at start (another stream took the room since the check): Express answers.
        void this.opener.start(req, res, check).then(
          (started) => {
            if (started && 'ok' in started) next();
          },
          () => {
            if (!res.headersSent) next();
            else res.destroy();
          },
        );
      },
      () => next(),
    );
  }
}
