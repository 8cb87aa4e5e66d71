import { request, type ClientRequest } from 'node:http';

/** What an observed stream reports: a frame about a command, at `at` (process.hrtime, ns). */
export interface Sighting {
  kind: 'position' | 'result';
  trainerId: string;
  /** position.update: the direction angle, atan2(dirY, dirX). */
  angle?: number;
  /** command.result: the command id. */
  commandId?: string;
  at: bigint;
}

/**
 * An event stream of one mover's user (raw http streaming, not `eventsource`), watching only the
 * frames about its own trainer: `position.update` of that trainer (a broadcast every client
 * receives) and the user's `command.result`s. Scans complete frames with `indexOf` and parses
 * only the ones it looks for, so that hundreds of observers stay cheap. Without a trainer id
 * (`undefined`) it watches every trainer's `position.update` and no `command.result`: the
 * streams opened last, to time the clients a gateway writes to last.
 */
export class Observer {
  private buffer = '';
  private req: ClientRequest | undefined;
  private readonly key: string;

  constructor(
    readonly trainerId: string | undefined,
    /** Replaceable: each measured run routes sightings to its own ledger. */
    public onSighting: (sighting: Sighting) => void,
  ) {
    this.key =
      trainerId === undefined ? '"method":"position.update"' : `"trainerId":"${trainerId}"`;
  }

  open(url: string, token: string): Promise<void> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      this.req = request(
        {
          host: hostname,
          port: Number(port),
          path: '/events',
          agent: false,
          headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
        },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`observer: ${res.statusCode}`));
          res.setEncoding('utf8');
          let first = true;
          res.on('data', (chunk: string) => {
            const at = process.hrtime.bigint();
            if (first) {
              first = false;
              resolve();
            }
            this.read(chunk, at);
          });
        },
      );
      this.req.on('error', reject);
      this.req.setNoDelay(true);
      this.req.end();
    });
  }

  close(): void {
    this.req?.destroy();
  }

  private read(chunk: string, at: bigint): void {
    const text = this.buffer + chunk;
    const end = text.lastIndexOf('\n\n');
    if (end < 0) {
      this.buffer = text;
      return;
    }
    this.buffer = text.slice(end + 2);
    for (let from = text.indexOf(this.key); from >= 0 && from < end;) {
      const frameEnd = text.indexOf('\n\n', from);
      const frame = text.slice(text.lastIndexOf('\n\n', from) + 1, frameEnd);
      if (frame.includes('"method":"position.update"')) {
        const dirX = number(frame, '"dirX":');
        const dirY = number(frame, '"dirY":');
        this.onSighting({
          kind: 'position',
          trainerId: this.trainerId ?? trainerOf(frame),
          angle: Math.atan2(dirY, dirX),
          at,
        });
      }
      from = text.indexOf(this.key, frameEnd);
    }
    if (this.trainerId === undefined) return;
    for (let from = text.indexOf('"method":"command.result"'); from >= 0 && from < end;) {
      const lineStart = text.lastIndexOf('data: ', from) + 6;
      const lineEnd = text.indexOf('\n', from);
      const data = JSON.parse(text.slice(lineStart, lineEnd)) as { params: { commandId: string } };
      this.onSighting({
        kind: 'result',
        trainerId: this.trainerId,
        commandId: data.params.commandId,
        at,
      });
      from = text.indexOf('"method":"command.result"', lineEnd);
    }
  }
}

function trainerOf(frame: string): string {
  const key = '"trainerId":"';
  const at = frame.indexOf(key) + key.length;
  return frame.slice(at, frame.indexOf('"', at));
}

function number(frame: string, key: string): number {
  const at = frame.indexOf(key) + key.length;
  return parseFloat(frame.slice(at, at + 32));
}
